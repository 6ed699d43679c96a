//! `NativeBatchStream`: pull-based iteration over query results, one wire batch per call.

use futures::StreamExt;
use napi_derive::napi;
use palimpsest_core::BatchStream;
use tokio::sync::Mutex;

use crate::error::to_napi;
use crate::wire::{batch_to_wire, WireBatchOut};

#[napi]
pub struct NativeBatchStream {
    inner: Mutex<Option<BatchStream>>,
}

impl NativeBatchStream {
    pub(crate) fn new(stream: BatchStream) -> Self {
        Self {
            inner: Mutex::new(Some(stream)),
        }
    }
}

#[napi]
impl NativeBatchStream {
    /// The next batch, or null when the stream is done (then its resources are released).
    #[napi]
    pub async fn next(&self) -> napi::Result<Option<WireBatchOut>> {
        let mut guard = self.inner.lock().await;
        let Some(stream) = guard.as_mut() else {
            return Ok(None);
        };
        match crate::error::guarded(async { Ok(stream.next().await) }).await? {
            Some(Ok(batch)) => batch_to_wire(batch).map(Some),
            Some(Err(err)) => {
                *guard = None;
                Err(to_napi(err))
            }
            None => {
                *guard = None;
                Ok(None)
            }
        }
    }

    /// Stops the stream early and releases what it holds.
    #[napi]
    pub async fn close(&self) {
        *self.inner.lock().await = None;
    }
}
