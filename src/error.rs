//! Core errors to JS errors. Async napi calls only carry a reason string, so the stable code
//! travels as a `[CODE] ` prefix that the TypeScript facade turns back into a typed error.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use palimpsest_core::{Error, ErrorCode};

pub fn to_napi(err: Error) -> napi::Error {
    let mut reason = format!("[{}] {}", err.code.as_str(), err.message);
    // Keep the underlying cause's text for debugging; the message above is for users.
    if let Some(source) = &err.source {
        let detail = palimpsest_core::first_line(&source.to_string());
        if !detail.is_empty() && !err.message.contains(&detail) {
            reason.push_str("\ncaused by: ");
            reason.extend(detail.chars().take(MAX_CAUSE_CHARS));
        }
    }
    napi::Error::new(napi::Status::GenericFailure, shorten(reason))
}

/// Messages stay readable when the input they quote was huge.
const MAX_MESSAGE_CHARS: usize = 1500;
const MAX_CAUSE_CHARS: usize = 300;

fn shorten(reason: String) -> String {
    if reason.chars().count() <= MAX_MESSAGE_CHARS {
        return reason;
    }
    let total = reason.len();
    let head: String = reason.chars().take(MAX_MESSAGE_CHARS).collect();
    format!("{head}… (message cut, {total} bytes in all)")
}

pub fn code_error(code: ErrorCode, message: impl Into<String>) -> napi::Error {
    to_napi(Error::new(code, message))
}

pub fn invalid_argument(message: impl Into<String>) -> napi::Error {
    code_error(ErrorCode::InvalidArgument, message)
}

/// Runs a core future, turning its error and any panic into a typed JS error, so a bug in
/// the engine rejects one promise instead of taking the Node process down.
pub async fn guarded<T, F>(future: F) -> napi::Result<T>
where
    F: Future<Output = palimpsest_core::Result<T>>,
{
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result.map_err(to_napi),
        Err(panic) => Err(panic_error(&panic)),
    }
}

/// Runs a synchronous core call on the JS thread, inside the async runtime's context (lance
/// may spawn tasks), a panic becoming a typed error as in `guarded`.
pub fn guarded_now<T>(call: impl FnOnce() -> T) -> napi::Result<T> {
    napi::bindgen_prelude::within_runtime_if_available(|| {
        std::panic::catch_unwind(AssertUnwindSafe(call))
    })
    .map_err(|panic| panic_error(&panic))
}

fn panic_error(panic: &Box<dyn std::any::Any + Send>) -> napi::Error {
    code_error(
        ErrorCode::Internal,
        format!(
            "internal error (a bug in palimpsest; the table is unchanged): {}",
            panic_message(panic)
        ),
    )
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}
