use std::{collections::HashMap, time::Duration};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{Error, PasskeyFailure, PasskeyStage, Resource};

fn with_metadata(code: Code, reason: &str, message: &str, key: &str, value: &str) -> Status {
    let details =
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::from([(key.to_owned(), value.to_owned())]));
    Status::with_error_details(code, message, details)
}

/// A "retry later" answer: ErrorInfo and RetryInfo, the delay in whole seconds rounded up
/// (retrying at the hint must not be refused again).
fn retry_later(code: Code, reason: &str, message: &str, retry_after: Duration) -> Status {
    let retry_after = Duration::from_secs(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0));
    let mut details = ErrorDetails::with_retry_info(Some(retry_after));
    details.set_error_info(reason, ERROR_DOMAIN, HashMap::new());
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
                field.reason.as_str(),
                ERROR_DOMAIN,
                HashMap::from([("field".to_owned(), field.field.to_owned())]),
            );
            return Status::with_error_details(Code::InvalidArgument, field.to_string(), details);
        }
        Error::InvalidCredentials => (Code::Unauthenticated, "INVALID_CREDENTIALS", "invalid email or password"),
        Error::NotSignedIn => (Code::Unauthenticated, "NOT_SIGNED_IN", "this call needs a session: sign in first"),
        Error::SessionInvalid => (Code::Unauthenticated, "SESSION_INVALID", "the session is invalid or has expired"),
        Error::SessionTokenRequired => (
            Code::PermissionDenied,
            "SESSION_TOKEN_REQUIRED",
            "this call needs the session token; an access token is not enough",
        ),
        Error::EmailTaken => (Code::AlreadyExists, "EMAIL_TAKEN", "an account with this email already exists"),
        Error::NoPassword => (Code::FailedPrecondition, "NO_PASSWORD", "this account has no password"),
        Error::NotFound(Resource::Session) => (Code::NotFound, "SESSION_NOT_FOUND", "no such session"),
        Error::NotFound(Resource::LinkedAccount) => {
            (Code::NotFound, "LINKED_ACCOUNT_NOT_FOUND", "no such linked account")
        }
        Error::NotFound(Resource::Passkey) => (Code::NotFound, "PASSKEY_NOT_FOUND", "no such passkey"),
        Error::PasskeyAlreadyRegistered => {
            (Code::AlreadyExists, "PASSKEY_ALREADY_REGISTERED", "this passkey is already registered")
        }
        Error::TooManyPasskeys => (
            Code::FailedPrecondition,
            "PASSKEY_LIMIT_REACHED",
            "this account has as many passkeys as it may have; delete one first",
        ),
        Error::LastSignInMethod => (
            Code::FailedPrecondition,
            "LAST_SIGN_IN_METHOD",
            "this is the account's last way to sign in; add another one first",
        ),
        Error::CeremonyNotFound => (
            Code::NotFound,
            "CEREMONY_NOT_FOUND",
            "no such ceremony: it was never started, already finished, or is of another kind",
        ),
        Error::CeremonyExpired => {
            (Code::FailedPrecondition, "CHALLENGE_EXPIRED", "the ceremony took too long; start again")
        }
        Error::CeremonyNotYours => {
            (Code::PermissionDenied, "CEREMONY_NOT_YOURS", "this ceremony was started by someone else")
        }
        Error::PasskeyRejected { stage, failure } => {
            let code = match stage {
                PasskeyStage::Registration => Code::InvalidArgument,
                PasskeyStage::Login => Code::Unauthenticated,
            };
            let (reason, message) = match failure {
                PasskeyFailure::OriginMismatch => {
                    ("PASSKEY_ORIGIN_MISMATCH", "the credential was made on an origin this server does not allow")
                }
                PasskeyFailure::RpIdMismatch => {
                    ("PASSKEY_RP_ID_MISMATCH", "the credential is for another relying party")
                }
                PasskeyFailure::ChallengeMismatch => {
                    ("PASSKEY_CHALLENGE_MISMATCH", "the credential answers another challenge")
                }
                PasskeyFailure::SignatureInvalid => {
                    ("PASSKEY_SIGNATURE_INVALID", "the passkey's signature does not verify")
                }
                PasskeyFailure::UserNotPresent => {
                    ("PASSKEY_USER_NOT_PRESENT", "the authenticator did not confirm user presence")
                }
                PasskeyFailure::UserNotVerified => {
                    ("PASSKEY_USER_NOT_VERIFIED", "the authenticator did not verify the user")
                }
                PasskeyFailure::Invalid => ("PASSKEY_INVALID", "the credential is not valid"),
            };
            (code, reason, message)
        }
        Error::PasskeyUnknown => (Code::Unauthenticated, "PASSKEY_UNKNOWN", "this passkey is not registered here"),
        Error::PasskeyCounterRegressed => (
            Code::Unauthenticated,
            "PASSKEY_COUNTER_REGRESSED",
            "this passkey's signature counter went backwards; it may have been cloned",
        ),
        Error::OAuthStateInvalid => (
            Code::FailedPrecondition,
            "OAUTH_STATE_INVALID",
            "this sign-in link is not valid or was already used; start again",
        ),
        Error::OAuthStateExpired => {
            (Code::FailedPrecondition, "OAUTH_STATE_EXPIRED", "this sign-in link has expired; start again")
        }
        Error::OAuthAccessDenied => {
            (Code::PermissionDenied, "OAUTH_ACCESS_DENIED", "access was denied at the provider")
        }
        Error::OAuthProviderError(provider_error) => {
            return with_metadata(
                Code::FailedPrecondition,
                "OAUTH_PROVIDER_ERROR",
                "the provider refused the sign-in",
                "error",
                provider_error,
            );
        }
        Error::OAuthTokenExchangeFailed => {
            (Code::Unauthenticated, "OAUTH_TOKEN_EXCHANGE_FAILED", "the provider did not accept the sign-in")
        }
        Error::OAuthIdTokenInvalid(check) => {
            return with_metadata(
                Code::Unauthenticated,
                "OAUTH_ID_TOKEN_INVALID",
                "the provider's ID token is not valid",
                "check",
                check.as_str(),
            );
        }
        Error::OAuthProviderUnavailable => {
            (Code::Unavailable, "OAUTH_PROVIDER_UNAVAILABLE", "the provider could not be reached; retry later")
        }
        Error::OAuthAccountNotLinked => (
            Code::FailedPrecondition,
            "OAUTH_ACCOUNT_NOT_LINKED",
            "to confirm your identity, sign in with the method you used originally, then link this account",
        ),
        Error::OAuthAccountLinkedToOtherUser => (
            Code::FailedPrecondition,
            "OAUTH_ACCOUNT_LINKED_TO_OTHER_USER",
            "this provider account is already linked to another user",
        ),
        Error::OAuthLinkUserMismatch => (
            Code::PermissionDenied,
            "OAUTH_LINK_USER_MISMATCH",
            "finish linking with the session of the user who started it",
        ),
        Error::OAuthEmailUnavailable => {
            (Code::FailedPrecondition, "OAUTH_EMAIL_UNAVAILABLE", "the provider did not share a usable email address")
        }
        Error::RateLimited { retry_after } => {
            return retry_later(Code::ResourceExhausted, "RATE_LIMITED", "too many attempts; retry later", retry_after);
        }
        Error::TooManyCeremonies { retry_after } => {
            return retry_later(
                Code::ResourceExhausted,
                "TOO_MANY_CEREMONIES",
                "too many sign-in ceremonies are pending; retry later",
                retry_after,
            );
        }
        Error::StoreUnavailable => {
            return retry_later(
                Code::Unavailable,
                "UNAVAILABLE",
                "the service is temporarily unavailable; retry shortly",
                Duration::from_secs(1),
            );
        }
        Error::HasherOverloaded => {
            return retry_later(
                Code::ResourceExhausted,
                "OVERLOADED",
                "too many sign-ins in progress; retry shortly",
                Duration::from_secs(1),
            );
        }
        Error::Internal(detail) => {
            tracing::error!(%detail, "internal error");
            (Code::Internal, "INTERNAL", "internal error")
        }
    };
    Status::with_error_details(code, message, ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new()))
}
