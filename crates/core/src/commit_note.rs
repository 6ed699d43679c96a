//! What a write records about itself: the caller's message and properties, and palimpsest's
//! own account of the operation (its kind, parameters and row counts).
//!
//! Everything goes into the version's own commit (lance's transaction properties) so any Lance
//! reader keeps it: through lance's write options where it has them, and through palimpsest's
//! commit handler (`commit_hook`) for `update` and schema changes, where it has none.

use std::collections::{BTreeMap, HashMap};

use crate::error::{Error, Result};
use crate::writes::WriteResult;

/// Keys palimpsest writes start with this; callers' property keys may not.
pub const RESERVED_PREFIX: &str = "palimpsest.";
pub(crate) const OPERATION: &str = "palimpsest.operation";
pub(crate) const MESSAGE: &str = "palimpsest.message";
pub(crate) const ROWS_ADDED: &str = "palimpsest.rows_added";
pub(crate) const ROWS_UPDATED: &str = "palimpsest.rows_updated";
pub(crate) const ROWS_DELETED: &str = "palimpsest.rows_deleted";
/// Operation parameters are stored as `palimpsest.param.<name>`.
pub(crate) const PARAM_PREFIX: &str = "palimpsest.param.";

const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// What the caller says about a write: a message and free-form properties, kept with the
/// version forever.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitNote {
    pub message: Option<String>,
    pub properties: BTreeMap<String, String>,
}

impl CommitNote {
    pub fn message(text: impl Into<String>) -> Self {
        Self {
            message: Some(text.into()),
            properties: BTreeMap::new(),
        }
    }

    /// Rejects reserved or empty keys and oversized messages before anything is written.
    pub fn validate(&self) -> Result<()> {
        if let Some(message) = &self.message {
            if message.len() > MAX_MESSAGE_BYTES {
                return Err(Error::invalid_argument(format!(
                    "a write message can be at most {MAX_MESSAGE_BYTES} bytes, got {}; put large payloads in a column instead",
                    message.len()
                )));
            }
        }
        for key in self.properties.keys() {
            if key.is_empty() {
                return Err(Error::invalid_argument("a property key cannot be empty"));
            }
            if key.starts_with(RESERVED_PREFIX) {
                return Err(Error::invalid_argument(format!(
                    "property key `{key}` starts with `{RESERVED_PREFIX}`, which palimpsest reserves for itself; pick another key"
                )));
            }
        }
        Ok(())
    }
}

/// The account of one write that goes into its commit.
#[derive(Debug, Clone)]
pub(crate) struct OperationRecord {
    pub operation: &'static str,
    pub params: Vec<(&'static str, String)>,
}

impl OperationRecord {
    pub fn new(operation: &'static str) -> Self {
        Self {
            operation,
            params: Vec::new(),
        }
    }

    pub fn param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.params.push((name, value.into()));
        self
    }

    /// The full property map of the commit: the caller's note, the operation and `counts`.
    pub fn properties(&self, note: &CommitNote, counts: &WriteResult) -> HashMap<String, String> {
        let mut map: HashMap<String, String> = note
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(message) = &note.message {
            map.insert(MESSAGE.into(), message.clone());
        }
        map.insert(OPERATION.into(), self.operation.into());
        for (name, value) in &self.params {
            map.insert(format!("{PARAM_PREFIX}{name}"), value.clone());
        }
        map.insert(ROWS_ADDED.into(), counts.rows_added.to_string());
        map.insert(ROWS_UPDATED.into(), counts.rows_updated.to_string());
        map.insert(ROWS_DELETED.into(), counts.rows_deleted.to_string());
        map
    }
}
