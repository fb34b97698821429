//! Requests to the Microsoft cloud over the connector's own HTTP layer
//! ([`crate::exchange::http::Connection`]: proxy, TLS with `TrustedCaFile`), one kept-alive
//! connection per host, opened again when the server closed it. Never logs a header or body.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

use crate::exchange::http::{ConnectOptions, Connection, Endpoint, HttpError, HttpResponse};

/// Connections to the cloud's hosts.
pub struct CloudHttp {
    opts: ConnectOptions,
    open: HashMap<String, Connection>,
}

impl std::fmt::Debug for CloudHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudHttp")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl CloudHttp {
    /// Cloud traffic always takes the configured proxy (see [`super::connect_options`]).
    pub fn new(opts: ConnectOptions) -> Self {
        CloudHttp {
            opts,
            open: HashMap::new(),
        }
    }

    /// Send `req` to `url` (absolute) and read the response; once more on a fresh connection
    /// when a kept-alive one turns out to be closed.
    pub async fn send(
        &mut self,
        url: &str,
        build: impl Fn(&str) -> Request<Full<Bytes>>,
    ) -> Result<HttpResponse, HttpError> {
        let endpoint = Endpoint::parse(url)?;
        let key = format!(
            "{}://{}",
            if endpoint.https { "https" } else { "http" },
            endpoint.authority()
        );
        let mut retried = false;
        loop {
            if self.open.get(&key).is_none_or(|c| c.is_closed()) {
                let c = Connection::open(&endpoint, &self.opts).await?;
                self.open.insert(key.clone(), c);
            }
            let Some(conn) = self.open.get_mut(&key) else {
                continue;
            };
            match conn.send(build(&endpoint.path)).await {
                Ok(r) => return Ok(r),
                Err(e) => {
                    self.open.remove(&key);
                    if retried || !matches!(e, HttpError::Broken { .. }) {
                        return Err(e);
                    }
                    retried = true;
                }
            }
        }
    }
}
