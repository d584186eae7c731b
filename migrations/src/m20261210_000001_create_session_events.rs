//! `session_events`: the durable feed behind AdminService.WatchSessionEvents — one row per
//! session that ended early (revoked, replaced, ended by a password change …), per user disabled
//! and per user deleted, written in the same transaction as the change. The id is the stream's
//! cursor: AUTOINCREMENT on SQLite (never reused, even after pruning), bigserial on PostgreSQL.
//! `session_event_horizon` holds one row: the highest id pruned so far, so that a cursor from
//! before the retention window is recognised as expired rather than silently skipping events.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SessionEvents {
    Table,
    Id,
    /// `session.revoked`, `user.disabled` or `user.deleted`.
    Kind,
    UserId,
    /// The ended session, for `session.revoked`.
    SessionId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SessionEventHorizon {
    Table,
    Id,
    PrunedThrough,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SessionEvents::Table)
                    .col(big_integer(SessionEvents::Id).auto_increment().primary_key())
                    .col(string(SessionEvents::Kind))
                    .col(string(SessionEvents::UserId))
                    .col(string_null(SessionEvents::SessionId))
                    .col(timestamp_with_time_zone(SessionEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // Retention prunes by age.
        manager
            .create_index(
                Index::create()
                    .name("ix_session_events_created_at")
                    .table(SessionEvents::Table)
                    .col(SessionEvents::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SessionEventHorizon::Table)
                    .col(integer(SessionEventHorizon::Id).primary_key())
                    .col(big_integer(SessionEventHorizon::PrunedThrough))
                    .to_owned(),
            )
            .await?;
        let row = Query::insert()
            .into_table(SessionEventHorizon::Table)
            .columns([SessionEventHorizon::Id, SessionEventHorizon::PrunedThrough])
            .values_panic([1.into(), 0i64.into()])
            .to_owned();
        manager.exec_stmt(row).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SessionEventHorizon::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(SessionEvents::Table).to_owned()).await
    }
}
