//! A client for a remote RFC 3161 TSA over HTTP (a qualified TSA in production).

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::request::RequestSpec;
use crate::verify::{
    Expected, TrustStore, VerifiedToken, VerifyError, granted_token, verify_token,
};
use crate::{QUERY_CONTENT_TYPE, REPLY_CONTENT_TYPE};

/// Responses larger than this are refused (a token with a certificate chain is a few KiB).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid TSA URL {0:?}: only http:// URLs are supported")]
    Url(String),
    #[error("the TSA did not answer within {0:?}")]
    Timeout(Duration),
    #[error("could not reach the TSA: {0}")]
    Transport(String),
    #[error("the TSA answered HTTP {0}")]
    Status(StatusCode),
    #[error("the TSA answered with content type {0:?}, not {REPLY_CONTENT_TYPE}")]
    ContentType(String),
    #[error("the TSA's answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("the request could not be encoded: {0}")]
    Encoding(der::Error),
    #[error("the TSA's answer does not verify: {0}")]
    Verify(#[from] VerifyError),
}

/// Talks to one TSA.
#[derive(Clone, Debug)]
pub struct TsaClient {
    url: Uri,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A verified token and what it says.
#[derive(Clone, Debug)]
pub struct Timestamp {
    /// The DER token (a CMS ContentInfo), to store next to what it time-stamps.
    pub token: Vec<u8>,
    pub verified: VerifiedToken,
}

impl TsaClient {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, ClientError> {
        let uri: Uri = url.parse().map_err(|_| ClientError::Url(url.to_owned()))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(ClientError::Url(url.to_owned()));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        Ok(TsaClient {
            url: uri,
            timeout,
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// Posts a DER TimeStampReq; returns the DER TimeStampResp, unverified.
    pub async fn post(&self, request_der: Vec<u8>) -> Result<Vec<u8>, ClientError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(header::CONTENT_TYPE, QUERY_CONTENT_TYPE)
            .body(Full::new(Bytes::from(request_der)))
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| ClientError::Transport(e.to_string()))?;
            if response.status() != StatusCode::OK {
                return Err(ClientError::Status(response.status()));
            }
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            if !content_type.starts_with(REPLY_CONTENT_TYPE) {
                return Err(ClientError::ContentType(content_type));
            }
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        ClientError::TooLarge
                    } else {
                        ClientError::Transport(e.to_string())
                    }
                })?;
            Ok(body.to_bytes().to_vec())
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))?
    }

    /// Requests a token for `spec` and verifies it against the request and `trust`.
    pub async fn timestamp(
        &self,
        spec: &RequestSpec,
        trust: &TrustStore,
    ) -> Result<Timestamp, ClientError> {
        let request_der = spec.to_der().map_err(ClientError::Encoding)?;
        let expected = Expected::from_request(&request_der)?;
        let response = self.post(request_der).await?;
        let token = granted_token(&response)?;
        let verified = verify_token(token, &expected, trust)?;
        Ok(Timestamp {
            token: token.to_vec(),
            verified,
        })
    }
}
