//! Migrations run up, down and up again on each backend, and the constraints hold.

use keyward::store::Store;

use crate::common::{Backend, TestDb, both_backends};

both_backends!(migrations_go_up_down_and_up_again);

async fn migrations_go_up_down_and_up_again(backend: Backend) {
    let db = TestDb::create(backend).await;
    let store = Store::connect(&db.url, 2).await.unwrap();
    let pending = store.migration_status().await.unwrap();
    let steps = crate::common::migration_steps();
    assert_eq!(pending.len(), steps);
    assert!(pending.iter().all(|m| !m.applied));

    store.migrate_up().await.unwrap();
    assert!(store.migration_status().await.unwrap().iter().all(|m| m.applied));
    store.migrate_down(u32::try_from(steps).unwrap()).await.unwrap();
    assert!(store.migration_status().await.unwrap().iter().all(|m| !m.applied));
    store.migrate_up().await.unwrap();
    let counts = store.row_counts().await.unwrap();
    assert_eq!(counts.users, 0);
    store.close().await.unwrap();
}
