//! Reading an answer the server already made: the `ErrorInfo` reason of an error answer, from its
//! (trailers-only) headers, for the per-RPC metrics.

use tonic_types::StatusExt;

/// The `ErrorInfo` reason of a trailers-only error answer (`INVALID_CREDENTIALS`), if it has one.
pub fn error_reason(headers: &http::HeaderMap) -> Option<String> {
    let status = tonic::Status::from_header_map(headers)?;
    status.get_error_details().error_info().map(|info| info.reason.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn reads_back_the_reason_the_status_mapping_wrote() {
        let status = crate::grpc::to_status(Error::InvalidCredentials);
        let mut headers = http::HeaderMap::new();
        status.add_header(&mut headers).unwrap();
        assert_eq!(error_reason(&headers).as_deref(), Some("INVALID_CREDENTIALS"));
        assert_eq!(error_reason(&http::HeaderMap::new()), None);
    }
}
