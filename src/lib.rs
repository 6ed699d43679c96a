//! The napi binding: converts between JavaScript and `palimpsest-core`; no table logic here.

mod branches;
mod connection;
mod diff;
mod error;
mod history;
mod indexes;
mod maintenance;
mod query;
mod schema_json;
mod stream;
mod table;
mod tags;
mod wire;

pub use connection::NativeConnection;
pub use stream::NativeBatchStream;
pub use table::NativeTable;

/// Test hook: panics inside a native async call, to prove panics reject instead of aborting.
#[napi_derive::napi]
pub async fn debug_panic() -> napi::Result<()> {
    error::guarded(async {
        if std::hint::black_box(true) {
            panic!("debugPanic() was called");
        }
        Ok(())
    })
    .await
}
