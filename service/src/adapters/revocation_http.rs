//! The one HTTP exchange of the revocation clients: plain `http://` (what RFC 5280 and RFC 6960
//! use: the answers sign themselves), through hyper-util's client with no pooled connections
//! (an exchange may run on a runtime of its own that ends with it), the whole exchange under a
//! timeout, connection included, and the answer's body read up to a bound. The CRL fetcher
//! GETs with it, the OCSP checker POSTs.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0:?} is not an http:// URL")]
    Url(String),
    #[error("{0} did not answer within {1:?}")]
    Timeout(String, Duration),
    #[error("{0} cannot be reached: {1}")]
    Transport(String, String),
    #[error("{0} answered HTTP {1}")]
    Status(String, StatusCode),
    #[error("{0} answered with content type {1:?}, not {2}")]
    ContentType(String, String, &'static str),
    #[error("{0} answered more than {1} bytes")]
    TooLarge(String, usize),
    #[error("no runtime for the exchange: {0}")]
    Runtime(String),
}

/// `url` if it is an `http://` URL with a host.
pub fn http_uri(url: &str) -> Result<Uri, FetchError> {
    let uri: Uri = url.parse().map_err(|_| FetchError::Url(url.to_owned()))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(FetchError::Url(url.to_owned()));
    }
    Ok(uri)
}

/// What one exchange asks for.
#[derive(Debug)]
pub struct Exchange {
    pub method: Method,
    pub uri: Uri,
    /// The request's body and its content type (a POST).
    pub body: Option<(Vec<u8>, &'static str)>,
    /// The content type the answer must have (its start), if any.
    pub answer_type: Option<&'static str>,
    /// The largest body read.
    pub max_bytes: usize,
}

/// An HTTP client for the revocation services.
#[derive(Debug, Clone)]
pub struct RevocationHttp {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl RevocationHttp {
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        RevocationHttp {
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build(connector),
            timeout,
        }
    }

    /// The answer's body (status 200, of the type asked for, within the bound).
    pub async fn exchange(&self, exchange: Exchange) -> Result<Vec<u8>, FetchError> {
        let url = exchange.uri.to_string();
        let mut builder = Request::builder().method(exchange.method).uri(exchange.uri);
        let body = match exchange.body {
            Some((bytes, content_type)) => {
                builder = builder.header(header::CONTENT_TYPE, content_type);
                Full::new(Bytes::from(bytes))
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder
            .body(body)
            .map_err(|e| FetchError::Transport(url.clone(), e.to_string()))?;
        let max = exchange.max_bytes;
        let answer = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| FetchError::Transport(url.clone(), e.to_string()))?;
            if response.status() != StatusCode::OK {
                return Err(FetchError::Status(url.clone(), response.status()));
            }
            if let Some(expected) = exchange.answer_type {
                let content_type = response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                if !content_type.starts_with(expected) {
                    return Err(FetchError::ContentType(url.clone(), content_type, expected));
                }
            }
            let body = Limited::new(response.into_body(), max)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        FetchError::TooLarge(url.clone(), max)
                    } else {
                        FetchError::Transport(url.clone(), e.to_string())
                    }
                })?;
            Ok(body.to_bytes().to_vec())
        };
        tokio::time::timeout(self.timeout, answer)
            .await
            .map_err(|_| FetchError::Timeout(url.clone(), self.timeout))?
    }

    /// The exchange, from synchronous code, never blocking a runtime worker unannounced
    /// (see `blocking::wait_for`).
    pub fn exchange_blocking(&self, exchange: Exchange) -> Result<Vec<u8>, FetchError> {
        super::blocking::wait_for(self.exchange(exchange))
            .unwrap_or_else(|e| Err(FetchError::Runtime(e)))
    }
}
