//! The protobuf codec of every Keyward service: tonic's prost codec, except that a request body
//! that does not decode is the caller's fault. tonic's own codec answers `INTERNAL` with the
//! decoder's text ("failed to decode Protobuf message: …"), so a client's garbage looked like a
//! server fault on every dashboard and the decoder's detail went back to the client. Here it is
//! `INVALID_ARGUMENT`, reason `MALFORMED_MESSAGE`, with a fixed message.
//!
//! build.rs points tonic-prost-build's `codec_path` at [`KeywardCodec`], so every generated
//! server and client uses it.

use std::marker::PhantomData;

use prost::Message;
use tonic::{
    Status,
    codec::{BufferSettings, Codec, DecodeBuf, Decoder},
};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// `tonic_prost::ProstCodec` with decode failures mapped to [`malformed_message`].
#[derive(Debug, Clone)]
pub struct KeywardCodec<T, U> {
    _types: PhantomData<(T, U)>,
}

impl<T, U> Default for KeywardCodec<T, U> {
    fn default() -> Self {
        Self { _types: PhantomData }
    }
}

impl<T, U> Codec for KeywardCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = KeywardDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        KeywardDecoder { inner: ProstCodec::<T, U>::raw_decoder(BufferSettings::default()) }
    }
}

/// Decodes like `ProstDecoder`; a failure is [`malformed_message`].
#[derive(Debug)]
pub struct KeywardDecoder<U> {
    inner: ProstDecoder<U>,
}

impl<U: Message + Default> Decoder for KeywardDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.inner.decode(buf).map_err(|err| {
            tracing::debug!(error = %err.message(), "request body does not decode");
            malformed_message()
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}

/// The answer to a request that is not a well-formed protobuf message in one gRPC frame: the
/// same fixed text whatever was wrong with it (nothing from the decoder is sent back).
pub fn malformed_message() -> Status {
    use tonic_types::{ErrorDetails, StatusExt};
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        "the request body is not a well-formed protobuf message",
        ErrorDetails::with_error_info(
            crate::pb::ErrorReason::MalformedMessage.as_str_name(),
            super::ERROR_DOMAIN,
            std::collections::HashMap::new(),
        ),
    )
}
