//! Domain errors → gRPC statuses: the one place a code and an `ErrorInfo` reason are chosen. The
//! reasons are `pb::ErrorReason`, published in proto/keyward/v1/error_reason.proto; the wire string
//! is the value's proto name.

use std::{collections::HashMap, time::Duration};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::{
    error::{BrowserRefusal, Error, FieldReason, PasskeyFailure, PasskeyStage, Resource},
    pb::ErrorReason,
};

fn with_metadata(code: Code, reason: ErrorReason, message: &str, key: &str, value: &str) -> Status {
    let metadata = HashMap::from([(key.to_owned(), value.to_owned())]);
    let details = ErrorDetails::with_error_info(reason.as_str_name(), ERROR_DOMAIN, metadata);
    Status::with_error_details(code, message, details)
}

/// The reason sent for a refused field.
fn field_reason(reason: FieldReason) -> ErrorReason {
    match reason {
        FieldReason::Required => ErrorReason::FieldRequired,
        FieldReason::TooLong => ErrorReason::FieldTooLong,
        FieldReason::Malformed => ErrorReason::FieldMalformed,
        FieldReason::InvalidEmail => ErrorReason::InvalidEmail,
        FieldReason::PasswordTooShort => ErrorReason::PasswordTooShort,
        FieldReason::PasswordTooLong => ErrorReason::PasswordTooLong,
        FieldReason::PasswordTooCommon => ErrorReason::PasswordTooCommon,
        FieldReason::InvalidPageToken => ErrorReason::InvalidPageToken,
        FieldReason::InvalidPageSize => ErrorReason::InvalidPageSize,
        FieldReason::PasswordIncorrect => ErrorReason::PasswordIncorrect,
        FieldReason::OAuthProviderUnknown => ErrorReason::OauthProviderUnknown,
        FieldReason::OAuthRedirectUriNotAllowed => ErrorReason::OauthRedirectUriNotAllowed,
        FieldReason::VerificationTokenInvalid => ErrorReason::VerificationTokenInvalid,
        FieldReason::VerificationTokenExpired => ErrorReason::VerificationTokenExpired,
        FieldReason::VerificationCodeInvalid => ErrorReason::VerificationCodeInvalid,
        FieldReason::RedirectUriNotAllowed => ErrorReason::RedirectUriNotAllowed,
    }
}

/// A "retry later" answer: ErrorInfo and RetryInfo, the delay in whole seconds rounded up
/// (retrying at the hint must not be refused again).
fn retry_later(code: Code, reason: ErrorReason, message: &str, retry_after: Duration) -> Status {
    let retry_after = Duration::from_secs(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0));
    let mut details = ErrorDetails::with_retry_info(Some(retry_after));
    details.set_error_info(reason.as_str_name(), ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(code, message, details)
}

/// `google.rpc.ErrorInfo.domain` of every Keyward error.
pub const ERROR_DOMAIN: &str = "keyward";

/// Maps a domain error to its gRPC status, in one exhaustive match: a new `Error` variant does not
/// compile until someone decides its code. Messages are fixed texts; internal detail is logged.
pub fn to_status(err: Error) -> Status {
    let (code, reason, message) = match err {
        Error::InvalidField(field) => {
            let mut details = ErrorDetails::with_bad_request_violation(field.field, field.description.clone());
            details.set_error_info(
                field_reason(field.reason).as_str_name(),
                ERROR_DOMAIN,
                HashMap::from([("field".to_owned(), field.field.to_owned())]),
            );
            return Status::with_error_details(Code::InvalidArgument, field.to_string(), details);
        }
        Error::InvalidCredentials => {
            (Code::Unauthenticated, ErrorReason::InvalidCredentials, "invalid email or password")
        }
        Error::NotSignedIn => {
            (Code::Unauthenticated, ErrorReason::NotSignedIn, "this call needs a session: sign in first")
        }
        Error::SessionInvalid => {
            (Code::Unauthenticated, ErrorReason::SessionInvalid, "the session is invalid or has expired")
        }
        Error::SessionTokenRequired => (
            Code::PermissionDenied,
            ErrorReason::SessionTokenRequired,
            "this call needs the session token; an access token is not enough",
        ),
        Error::ReauthenticationRequired => (
            Code::FailedPrecondition,
            ErrorReason::ReauthenticationRequired,
            "confirm it's you: re-authenticate with your password or a passkey, then try again",
        ),
        Error::ApiKeyRequired => (
            Code::Unauthenticated,
            ErrorReason::ApiKeyRequired,
            "AdminService needs an API key: authorization: Bearer kw_...",
        ),
        Error::ApiKeyInvalid => {
            (Code::Unauthenticated, ErrorReason::ApiKeyInvalid, "the API key is unknown, revoked or expired")
        }
        Error::ApiKeyScopeMissing(scope) => {
            return with_metadata(
                Code::PermissionDenied,
                ErrorReason::ApiKeyScopeMissing,
                "the API key lacks the scope this call needs",
                "scope",
                scope.as_str(),
            );
        }
        Error::UserDisabled => (Code::PermissionDenied, ErrorReason::UserDisabled, "this account is disabled"),
        Error::BrowserRequestRefused(BrowserRefusal::CookieOutsideGrpcWeb) => (
            Code::PermissionDenied,
            ErrorReason::SessionCookieRequiresGrpcWeb,
            "the session cookie is accepted over grpc-web only; other clients send a bearer token",
        ),
        Error::BrowserRequestRefused(BrowserRefusal::OriginNotAllowed) => (
            Code::PermissionDenied,
            ErrorReason::OriginNotAllowed,
            "this origin may not use the session cookie: add it to cors_allowed_origins",
        ),
        Error::EmailTaken => {
            (Code::AlreadyExists, ErrorReason::EmailTaken, "an account with this email already exists")
        }
        Error::NoPassword => (Code::FailedPrecondition, ErrorReason::NoPassword, "this account has no password"),
        Error::NoPasskey => (Code::FailedPrecondition, ErrorReason::NoPasskey, "this account has no passkey"),
        Error::EmailNotVerified => (
            Code::FailedPrecondition,
            ErrorReason::EmailNotVerified,
            "verify your email address first: a link has been mailed to it",
        ),
        Error::SignedInAsAnotherUser { link_email } => {
            return with_metadata(
                Code::FailedPrecondition,
                ErrorReason::SignedInAsAnotherUser,
                "another account is signed in here: sign out first to use this link",
                "email",
                link_email.as_str(),
            );
        }
        Error::NotFound(Resource::Session) => (Code::NotFound, ErrorReason::SessionNotFound, "no such session"),
        Error::NotFound(Resource::LinkedAccount) => {
            (Code::NotFound, ErrorReason::LinkedAccountNotFound, "no such linked account")
        }
        Error::NotFound(Resource::Passkey) => (Code::NotFound, ErrorReason::PasskeyNotFound, "no such passkey"),
        Error::NotFound(Resource::User) => (Code::NotFound, ErrorReason::UserNotFound, "no such user"),
        Error::NotFound(Resource::WebhookDelivery) => {
            (Code::NotFound, ErrorReason::WebhookDeliveryNotFound, "no such dead webhook delivery")
        }
        Error::WatchCursorExpired => (
            Code::FailedPrecondition,
            ErrorReason::WatchCursorExpired,
            "the cursor is older than the event retention: resync, then watch without a cursor",
        ),
        Error::TooManyWatchStreams => (
            Code::ResourceExhausted,
            ErrorReason::TooManyWatchStreams,
            "this API key has as many watch streams open as it may: close one first",
        ),
        Error::PasskeyAlreadyRegistered => {
            (Code::AlreadyExists, ErrorReason::PasskeyAlreadyRegistered, "this passkey is already registered")
        }
        Error::TooManyPasskeys => (
            Code::FailedPrecondition,
            ErrorReason::PasskeyLimitReached,
            "this account has as many passkeys as it may have; delete one first",
        ),
        Error::LastSignInMethod => (
            Code::FailedPrecondition,
            ErrorReason::LastSignInMethod,
            "this is the account's last way to sign in; add another one first",
        ),
        Error::CeremonyNotFound => (
            Code::NotFound,
            ErrorReason::CeremonyNotFound,
            "no such ceremony: it was never started, already finished, or is of another kind",
        ),
        Error::CeremonyExpired => {
            (Code::FailedPrecondition, ErrorReason::ChallengeExpired, "the ceremony took too long; start again")
        }
        Error::CeremonyNotYours => {
            (Code::PermissionDenied, ErrorReason::CeremonyNotYours, "this ceremony was started by someone else")
        }
        Error::PasskeyRejected { stage, failure } => {
            let code = match stage {
                PasskeyStage::Registration => Code::InvalidArgument,
                PasskeyStage::Login => Code::Unauthenticated,
            };
            let (reason, message) = match failure {
                PasskeyFailure::OriginMismatch => (
                    ErrorReason::PasskeyOriginMismatch,
                    "the credential was made on an origin this server does not allow",
                ),
                PasskeyFailure::RpIdMismatch => {
                    (ErrorReason::PasskeyRpIdMismatch, "the credential is for another relying party")
                }
                PasskeyFailure::ChallengeMismatch => {
                    (ErrorReason::PasskeyChallengeMismatch, "the credential answers another challenge")
                }
                PasskeyFailure::SignatureInvalid => {
                    (ErrorReason::PasskeySignatureInvalid, "the passkey's signature does not verify")
                }
                PasskeyFailure::UserNotPresent => {
                    (ErrorReason::PasskeyUserNotPresent, "the authenticator did not confirm user presence")
                }
                PasskeyFailure::UserNotVerified => {
                    (ErrorReason::PasskeyUserNotVerified, "the authenticator did not verify the user")
                }
                PasskeyFailure::Invalid => (ErrorReason::PasskeyInvalid, "the credential is not valid"),
            };
            (code, reason, message)
        }
        Error::PasskeyUnknown => {
            (Code::Unauthenticated, ErrorReason::PasskeyUnknown, "this passkey is not registered here")
        }
        Error::PasskeyCounterRegressed => (
            Code::Unauthenticated,
            ErrorReason::PasskeyCounterRegressed,
            "this passkey's signature counter went backwards; it may have been cloned",
        ),
        Error::OAuthStateInvalid => (
            Code::FailedPrecondition,
            ErrorReason::OauthStateInvalid,
            "this sign-in link is not valid or was already used; start again",
        ),
        Error::OAuthStateExpired => {
            (Code::FailedPrecondition, ErrorReason::OauthStateExpired, "this sign-in link has expired; start again")
        }
        Error::OAuthAccessDenied => {
            (Code::PermissionDenied, ErrorReason::OauthAccessDenied, "access was denied at the provider")
        }
        Error::OAuthProviderError(provider_error) => {
            return with_metadata(
                Code::FailedPrecondition,
                ErrorReason::OauthProviderError,
                "the provider refused the sign-in",
                "error",
                provider_error,
            );
        }
        Error::OAuthTokenExchangeFailed => {
            (Code::Unauthenticated, ErrorReason::OauthTokenExchangeFailed, "the provider did not accept the sign-in")
        }
        Error::OAuthIdTokenInvalid(check) => {
            return with_metadata(
                Code::Unauthenticated,
                ErrorReason::OauthIdTokenInvalid,
                "the provider's ID token is not valid",
                "check",
                check.as_str(),
            );
        }
        Error::OAuthProviderUnavailable => {
            (Code::Unavailable, ErrorReason::OauthProviderUnavailable, "the provider could not be reached; retry later")
        }
        Error::OAuthAccountNotLinked => (
            Code::FailedPrecondition,
            ErrorReason::OauthAccountNotLinked,
            "to confirm your identity, sign in with the method you used originally, then link this account",
        ),
        Error::OAuthAccountLinkedToOtherUser => (
            Code::FailedPrecondition,
            ErrorReason::OauthAccountLinkedToOtherUser,
            "this provider account is already linked to another user",
        ),
        Error::OAuthLinkUserMismatch => (
            Code::PermissionDenied,
            ErrorReason::OauthLinkUserMismatch,
            "finish linking with the session of the user who started it",
        ),
        Error::OAuthEmailUnavailable => (
            Code::FailedPrecondition,
            ErrorReason::OauthEmailUnavailable,
            "the provider did not share a usable email address",
        ),
        Error::OAuthEmailUnverified => (
            Code::FailedPrecondition,
            ErrorReason::OauthEmailUnverified,
            "the provider has not verified this email address; verify it there, then try again",
        ),
        Error::OAuthIssuerMismatch => (
            Code::FailedPrecondition,
            ErrorReason::OauthIssuerMismatch,
            "this answer does not come from the provider the sign-in started with; start again",
        ),
        Error::RateLimited { retry_after } => {
            return retry_later(
                Code::ResourceExhausted,
                ErrorReason::RateLimited,
                "too many attempts; retry later",
                retry_after,
            );
        }
        Error::TooManyCeremonies { retry_after } => {
            return retry_later(
                Code::ResourceExhausted,
                ErrorReason::TooManyCeremonies,
                "too many sign-in ceremonies are pending; retry later",
                retry_after,
            );
        }
        Error::StoreUnavailable => {
            return retry_later(
                Code::Unavailable,
                ErrorReason::Unavailable,
                "the service is temporarily unavailable; retry shortly",
                Duration::from_secs(1),
            );
        }
        Error::HasherOverloaded => {
            return retry_later(
                Code::ResourceExhausted,
                ErrorReason::Overloaded,
                "too many sign-ins in progress; retry shortly",
                Duration::from_secs(1),
            );
        }
        Error::Internal(detail) | Error::Startup(detail) => {
            tracing::error!(%detail, "internal error");
            (Code::Internal, ErrorReason::Internal, "internal error")
        }
    };
    let details = ErrorDetails::with_error_info(reason.as_str_name(), ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(code, message, details)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use tonic_types::StatusExt;

    use super::*;
    use crate::error::{FieldError, IdTokenCheck};

    /// Compile-time guard: a new `Error` variant fails here until it has a row in `table` below.
    fn _every_variant_has_a_row(err: &Error) {
        match err {
            Error::InvalidField(_)
            | Error::InvalidCredentials
            | Error::NotSignedIn
            | Error::SessionInvalid
            | Error::SessionTokenRequired
            | Error::ReauthenticationRequired
            | Error::ApiKeyRequired
            | Error::ApiKeyInvalid
            | Error::ApiKeyScopeMissing(_)
            | Error::UserDisabled
            | Error::BrowserRequestRefused(_)
            | Error::EmailTaken
            | Error::NoPassword
            | Error::NoPasskey
            | Error::EmailNotVerified
            | Error::SignedInAsAnotherUser { .. }
            | Error::PasskeyAlreadyRegistered
            | Error::TooManyPasskeys
            | Error::LastSignInMethod
            | Error::CeremonyNotFound
            | Error::CeremonyExpired
            | Error::CeremonyNotYours
            | Error::PasskeyRejected { .. }
            | Error::PasskeyUnknown
            | Error::PasskeyCounterRegressed
            | Error::NotFound(_)
            | Error::WatchCursorExpired
            | Error::TooManyWatchStreams
            | Error::OAuthStateInvalid
            | Error::OAuthStateExpired
            | Error::OAuthAccessDenied
            | Error::OAuthProviderError(_)
            | Error::OAuthTokenExchangeFailed
            | Error::OAuthIdTokenInvalid(_)
            | Error::OAuthProviderUnavailable
            | Error::OAuthAccountNotLinked
            | Error::OAuthAccountLinkedToOtherUser
            | Error::OAuthLinkUserMismatch
            | Error::OAuthEmailUnavailable
            | Error::OAuthEmailUnverified
            | Error::OAuthIssuerMismatch
            | Error::RateLimited { .. }
            | Error::TooManyCeremonies { .. }
            | Error::StoreUnavailable
            | Error::HasherOverloaded
            | Error::Internal(_)
            | Error::Startup(_) => {}
        }
    }

    fn field(reason: FieldReason) -> Error {
        Error::InvalidField(FieldError { field: "email", reason, description: "described".into() })
    }

    fn passkey(stage: PasskeyStage, failure: PasskeyFailure) -> Error {
        Error::PasskeyRejected { stage, failure }
    }

    /// Every variant (and every inner kind that changes the answer) with the code and reason
    /// clients see. These are published (error_reason.proto): a change here is an API change.
    fn table() -> Vec<(Error, Code, &'static str)> {
        use Code::*;
        use PasskeyFailure as F;
        use PasskeyStage::{Login, Registration};
        vec![
            (field(FieldReason::Required), InvalidArgument, "FIELD_REQUIRED"),
            (field(FieldReason::TooLong), InvalidArgument, "FIELD_TOO_LONG"),
            (field(FieldReason::Malformed), InvalidArgument, "FIELD_MALFORMED"),
            (field(FieldReason::InvalidEmail), InvalidArgument, "INVALID_EMAIL"),
            (field(FieldReason::PasswordTooShort), InvalidArgument, "PASSWORD_TOO_SHORT"),
            (field(FieldReason::PasswordTooLong), InvalidArgument, "PASSWORD_TOO_LONG"),
            (field(FieldReason::PasswordTooCommon), InvalidArgument, "PASSWORD_TOO_COMMON"),
            (field(FieldReason::PasswordIncorrect), InvalidArgument, "PASSWORD_INCORRECT"),
            (field(FieldReason::InvalidPageToken), InvalidArgument, "INVALID_PAGE_TOKEN"),
            (field(FieldReason::InvalidPageSize), InvalidArgument, "INVALID_PAGE_SIZE"),
            (field(FieldReason::OAuthProviderUnknown), InvalidArgument, "OAUTH_PROVIDER_UNKNOWN"),
            (field(FieldReason::OAuthRedirectUriNotAllowed), InvalidArgument, "OAUTH_REDIRECT_URI_NOT_ALLOWED"),
            (field(FieldReason::VerificationTokenInvalid), InvalidArgument, "VERIFICATION_TOKEN_INVALID"),
            (field(FieldReason::VerificationTokenExpired), InvalidArgument, "VERIFICATION_TOKEN_EXPIRED"),
            (field(FieldReason::VerificationCodeInvalid), InvalidArgument, "VERIFICATION_CODE_INVALID"),
            (field(FieldReason::RedirectUriNotAllowed), InvalidArgument, "REDIRECT_URI_NOT_ALLOWED"),
            (Error::InvalidCredentials, Unauthenticated, "INVALID_CREDENTIALS"),
            (Error::NotSignedIn, Unauthenticated, "NOT_SIGNED_IN"),
            (Error::SessionInvalid, Unauthenticated, "SESSION_INVALID"),
            (Error::SessionTokenRequired, PermissionDenied, "SESSION_TOKEN_REQUIRED"),
            (Error::ReauthenticationRequired, FailedPrecondition, "REAUTHENTICATION_REQUIRED"),
            (Error::ApiKeyRequired, Unauthenticated, "API_KEY_REQUIRED"),
            (Error::ApiKeyInvalid, Unauthenticated, "API_KEY_INVALID"),
            (Error::ApiKeyScopeMissing(crate::domain::ApiScope::AuditRead), PermissionDenied, "API_KEY_SCOPE_MISSING"),
            (Error::UserDisabled, PermissionDenied, "USER_DISABLED"),
            (Error::NotFound(Resource::User), NotFound, "USER_NOT_FOUND"),
            (Error::NotFound(Resource::WebhookDelivery), NotFound, "WEBHOOK_DELIVERY_NOT_FOUND"),
            (
                Error::BrowserRequestRefused(BrowserRefusal::CookieOutsideGrpcWeb),
                PermissionDenied,
                "SESSION_COOKIE_REQUIRES_GRPC_WEB",
            ),
            (Error::BrowserRequestRefused(BrowserRefusal::OriginNotAllowed), PermissionDenied, "ORIGIN_NOT_ALLOWED"),
            (Error::EmailTaken, AlreadyExists, "EMAIL_TAKEN"),
            (Error::NoPassword, FailedPrecondition, "NO_PASSWORD"),
            (Error::NoPasskey, FailedPrecondition, "NO_PASSKEY"),
            (Error::EmailNotVerified, FailedPrecondition, "EMAIL_NOT_VERIFIED"),
            (
                Error::SignedInAsAnotherUser { link_email: "a@example.com".into() },
                FailedPrecondition,
                "SIGNED_IN_AS_ANOTHER_USER",
            ),
            (Error::NotFound(Resource::Session), NotFound, "SESSION_NOT_FOUND"),
            (Error::NotFound(Resource::LinkedAccount), NotFound, "LINKED_ACCOUNT_NOT_FOUND"),
            (Error::NotFound(Resource::Passkey), NotFound, "PASSKEY_NOT_FOUND"),
            (Error::LastSignInMethod, FailedPrecondition, "LAST_SIGN_IN_METHOD"),
            (Error::PasskeyAlreadyRegistered, AlreadyExists, "PASSKEY_ALREADY_REGISTERED"),
            (Error::CeremonyNotFound, NotFound, "CEREMONY_NOT_FOUND"),
            (Error::CeremonyExpired, FailedPrecondition, "CHALLENGE_EXPIRED"),
            (Error::CeremonyNotYours, PermissionDenied, "CEREMONY_NOT_YOURS"),
            (passkey(Registration, F::OriginMismatch), InvalidArgument, "PASSKEY_ORIGIN_MISMATCH"),
            (passkey(Login, F::OriginMismatch), Unauthenticated, "PASSKEY_ORIGIN_MISMATCH"),
            (passkey(Registration, F::RpIdMismatch), InvalidArgument, "PASSKEY_RP_ID_MISMATCH"),
            (passkey(Login, F::RpIdMismatch), Unauthenticated, "PASSKEY_RP_ID_MISMATCH"),
            (passkey(Registration, F::ChallengeMismatch), InvalidArgument, "PASSKEY_CHALLENGE_MISMATCH"),
            (passkey(Login, F::ChallengeMismatch), Unauthenticated, "PASSKEY_CHALLENGE_MISMATCH"),
            (passkey(Registration, F::SignatureInvalid), InvalidArgument, "PASSKEY_SIGNATURE_INVALID"),
            (passkey(Login, F::SignatureInvalid), Unauthenticated, "PASSKEY_SIGNATURE_INVALID"),
            (passkey(Registration, F::UserNotPresent), InvalidArgument, "PASSKEY_USER_NOT_PRESENT"),
            (passkey(Login, F::UserNotPresent), Unauthenticated, "PASSKEY_USER_NOT_PRESENT"),
            (passkey(Registration, F::UserNotVerified), InvalidArgument, "PASSKEY_USER_NOT_VERIFIED"),
            (passkey(Login, F::UserNotVerified), Unauthenticated, "PASSKEY_USER_NOT_VERIFIED"),
            (passkey(Registration, F::Invalid), InvalidArgument, "PASSKEY_INVALID"),
            (passkey(Login, F::Invalid), Unauthenticated, "PASSKEY_INVALID"),
            (Error::PasskeyUnknown, Unauthenticated, "PASSKEY_UNKNOWN"),
            (Error::PasskeyCounterRegressed, Unauthenticated, "PASSKEY_COUNTER_REGRESSED"),
            (Error::OAuthStateInvalid, FailedPrecondition, "OAUTH_STATE_INVALID"),
            (Error::OAuthStateExpired, FailedPrecondition, "OAUTH_STATE_EXPIRED"),
            (Error::OAuthAccessDenied, PermissionDenied, "OAUTH_ACCESS_DENIED"),
            (Error::OAuthProviderError("temporarily_unavailable"), FailedPrecondition, "OAUTH_PROVIDER_ERROR"),
            (Error::OAuthTokenExchangeFailed, Unauthenticated, "OAUTH_TOKEN_EXCHANGE_FAILED"),
            (Error::OAuthIdTokenInvalid(IdTokenCheck::Nonce), Unauthenticated, "OAUTH_ID_TOKEN_INVALID"),
            (Error::OAuthProviderUnavailable, Unavailable, "OAUTH_PROVIDER_UNAVAILABLE"),
            (Error::OAuthAccountNotLinked, FailedPrecondition, "OAUTH_ACCOUNT_NOT_LINKED"),
            (Error::OAuthAccountLinkedToOtherUser, FailedPrecondition, "OAUTH_ACCOUNT_LINKED_TO_OTHER_USER"),
            (Error::OAuthLinkUserMismatch, PermissionDenied, "OAUTH_LINK_USER_MISMATCH"),
            (Error::OAuthEmailUnavailable, FailedPrecondition, "OAUTH_EMAIL_UNAVAILABLE"),
            (Error::OAuthEmailUnverified, FailedPrecondition, "OAUTH_EMAIL_UNVERIFIED"),
            (Error::OAuthIssuerMismatch, FailedPrecondition, "OAUTH_ISSUER_MISMATCH"),
            (Error::TooManyPasskeys, FailedPrecondition, "PASSKEY_LIMIT_REACHED"),
            (Error::RateLimited { retry_after: Duration::from_millis(1500) }, ResourceExhausted, "RATE_LIMITED"),
            (
                Error::TooManyCeremonies { retry_after: Duration::from_secs(3) },
                ResourceExhausted,
                "TOO_MANY_CEREMONIES",
            ),
            (Error::StoreUnavailable, Unavailable, "UNAVAILABLE"),
            (Error::WatchCursorExpired, FailedPrecondition, "WATCH_CURSOR_EXPIRED"),
            (Error::TooManyWatchStreams, ResourceExhausted, "TOO_MANY_WATCH_STREAMS"),
            (Error::HasherOverloaded, ResourceExhausted, "OVERLOADED"),
            (Error::Internal("database on fire".into()), Internal, "INTERNAL"),
            (Error::Startup("no master key on fire".into()), Internal, "INTERNAL"),
        ]
    }

    #[test]
    fn every_error_has_its_pinned_code_and_reason() {
        for (err, code, reason) in table() {
            let described = format!("{err:?}");
            let status = to_status(err);
            let info = status.get_details_error_info().unwrap_or_else(|| panic!("{described}: no ErrorInfo"));
            assert_eq!((status.code(), info.reason.as_str()), (code, reason), "{described}");
            assert_eq!(info.domain, ERROR_DOMAIN, "{described}");
            assert!(!status.message().contains("on fire"), "{described}: internal detail sent to the client");
        }
    }

    #[test]
    fn the_published_enum_is_exactly_the_reasons_sent() {
        let mut sent: BTreeSet<&str> = table().into_iter().map(|(_, _, reason)| reason).collect();
        // Sent before a handler runs, for a body that is not one protobuf message in one frame
        // (codec.rs, envelope.rs).
        sent.extend([ErrorReason::MalformedMessage.as_str_name(), ErrorReason::MessageTooLarge.as_str_name()]);
        // Every value the enum has (numbers need not be dense; 1000 is far above any in use).
        let published: BTreeSet<&str> = (1..1000)
            .filter_map(|value| ErrorReason::try_from(value).ok())
            .map(|reason| reason.as_str_name())
            .collect();
        assert_eq!(sent, published, "error_reason.proto and the reasons the server sends differ");
    }

    #[test]
    fn field_and_provider_errors_carry_their_metadata() {
        let status = to_status(field(FieldReason::InvalidEmail));
        assert_eq!(status.get_details_error_info().unwrap().metadata["field"], "email");
        assert_eq!(status.get_details_bad_request().unwrap().field_violations[0].field, "email");
        let status = to_status(Error::OAuthProviderError("temporarily_unavailable"));
        assert_eq!(status.get_details_error_info().unwrap().metadata["error"], "temporarily_unavailable");
        let status = to_status(Error::OAuthIdTokenInvalid(IdTokenCheck::Nonce));
        assert_eq!(status.get_details_error_info().unwrap().metadata["check"], "nonce");
        assert!(to_status(Error::HasherOverloaded).get_details_retry_info().is_some());
        // Retry hints are whole seconds, rounded up: retrying at the hint is not refused again.
        let hint = to_status(Error::RateLimited { retry_after: Duration::from_millis(1500) });
        assert_eq!(hint.get_details_retry_info().unwrap().retry_delay, Some(Duration::from_secs(2)));
        assert!(to_status(Error::StoreUnavailable).get_details_retry_info().is_some());
    }
}
