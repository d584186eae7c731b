"""register → login → get-session, and the error reasons a Python caller switches on."""

import grpc
import pytest

from keyward_client import ErrorReason, KeywardClient, KeywardError

PASSWORD = "violet-otter-lamp-93"


def test_register_login_get_session(client: KeywardClient, email: str) -> None:
    registered = client.register(email, PASSWORD, name="Ada")
    assert registered.user.email == email
    assert registered.user.name == "Ada"
    assert registered.user.has_password
    assert registered.session_token

    signed_in = client.login(email, PASSWORD)
    assert signed_in.user.id == registered.user.id
    assert signed_in.session.id != registered.session.id
    assert client.token == signed_in.session_token

    session = client.get_session()
    assert session.user.id == registered.user.id
    assert session.user.email == email
    assert session.session.id == signed_in.session.id
    assert session.session.current

    # The access token names the same user and session.
    by_access_token = client.get_session(token=signed_in.access_token.token)
    assert by_access_token.user.id == registered.user.id
    assert by_access_token.session.id == signed_in.session.id


def test_wrong_password_is_invalid_credentials(client: KeywardClient, email: str) -> None:
    client.register(email, PASSWORD)
    with pytest.raises(KeywardError) as raised:
        client.login(email, "not-the-password-42")
    assert raised.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert raised.value.reason == "INVALID_CREDENTIALS"
    assert raised.value.error_reason == ErrorReason.INVALID_CREDENTIALS
    assert raised.value.has_reason(ErrorReason.INVALID_CREDENTIALS, ErrorReason.OVERLOADED)
    assert not raised.value.has_reason(ErrorReason.EMAIL_TAKEN)

    # An unknown email fails the same way: no hint that the account exists.
    with pytest.raises(KeywardError) as unknown:
        client.login("nobody-" + email, "not-the-password-42")
    assert (unknown.value.code, unknown.value.reason, unknown.value.message) == (
        raised.value.code,
        raised.value.reason,
        raised.value.message,
    )


def test_common_password_names_the_field(client: KeywardClient, email: str) -> None:
    with pytest.raises(KeywardError) as raised:
        client.register(email, "password12345678")
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.reason == "PASSWORD_TOO_COMMON"
    assert [v.field for v in raised.value.field_violations] == ["password"]
    assert raised.value.field_violations[0].description


def test_email_taken(client: KeywardClient, email: str) -> None:
    client.register(email, PASSWORD)
    with pytest.raises(KeywardError) as raised:
        client.register(email, PASSWORD)
    assert raised.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert raised.value.reason == "EMAIL_TAKEN"


def test_get_session_needs_a_session(client: KeywardClient) -> None:
    with pytest.raises(KeywardError) as raised:
        client.get_session()
    assert raised.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert raised.value.reason == "NOT_SIGNED_IN"


def test_logout_ends_the_session(client: KeywardClient, email: str) -> None:
    signed_in = client.register(email, PASSWORD)
    client.logout()
    assert client.token is None
    with pytest.raises(KeywardError) as raised:
        client.get_session(token=signed_in.session_token)
    assert raised.value.reason == "SESSION_INVALID"


def test_generated_stubs_through_call(client: KeywardClient, email: str) -> None:
    """Any RPC goes through ``call`` with the session's bearer token and typed errors."""
    from keyward.v1 import oauth_pb2, passkey_pb2

    client.register(email, PASSWORD)
    passkeys = client.call(client.passkeys.ListPasskeys, passkey_pb2.ListPasskeysRequest())
    assert list(passkeys.passkeys) == []
    providers = client.call(client.oauth.ListProviders, oauth_pb2.ListProvidersRequest())
    assert list(providers.providers) == []  # the test server configures no provider
    with pytest.raises(KeywardError) as raised:
        client.call(client.passkeys.DeletePasskey, passkey_pb2.DeletePasskeyRequest(passkey_id="no-such-id"))
    assert (raised.value.code, raised.value.reason) == (grpc.StatusCode.NOT_FOUND, "PASSKEY_NOT_FOUND")


def test_a_reason_from_a_newer_server_is_kept_as_a_string() -> None:
    error = KeywardError(code=grpc.StatusCode.FAILED_PRECONDITION, message="m", reason="SOMETHING_NEW")
    assert error.reason == "SOMETHING_NEW"
    assert error.error_reason == ErrorReason.ERROR_REASON_UNSPECIFIED
    assert not error.has_reason(ErrorReason.ERROR_REASON_UNSPECIFIED)
