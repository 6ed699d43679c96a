//! The one error type of the core: a stable code plus a message that tells the user what to do.

use std::fmt;

/// Stable, documented error codes. The JS side maps each to a `PalimpsestError` subclass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    TableNotFound,
    TableExists,
    VersionNotFound,
    TagNotFound,
    BranchNotFound,
    SchemaMismatch,
    InvalidPredicate,
    ColumnNotFound,
    ReadOnlyCheckout,
    InvalidArgument,
    CommitConflict,
    MergeConflict,
    CorruptTable,
    Io,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TableNotFound => "TABLE_NOT_FOUND",
            Self::TableExists => "TABLE_EXISTS",
            Self::VersionNotFound => "VERSION_NOT_FOUND",
            Self::TagNotFound => "TAG_NOT_FOUND",
            Self::BranchNotFound => "BRANCH_NOT_FOUND",
            Self::SchemaMismatch => "SCHEMA_MISMATCH",
            Self::InvalidPredicate => "INVALID_PREDICATE",
            Self::ColumnNotFound => "COLUMN_NOT_FOUND",
            Self::ReadOnlyCheckout => "READ_ONLY_CHECKOUT",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::CommitConflict => "COMMIT_CONFLICT",
            Self::MergeConflict => "MERGE_CONFLICT",
            Self::CorruptTable => "CORRUPT_TABLE",
            Self::Io => "IO",
            Self::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure with a stable [`ErrorCode`], a user-facing message and the underlying cause.
#[derive(Debug)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub source: Option<BoxError>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    pub fn schema_mismatch(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::SchemaMismatch, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// Classifies a lance error raised while evaluating user SQL (a filter, a `valuesSql`
    /// expression): unknown columns become `COLUMN_NOT_FOUND`, the rest `INVALID_PREDICATE`.
    pub fn from_sql(err: lance::Error, sql: &str, what: &str) -> Self {
        let text = err.to_string();
        let code = if let Some(column) = unknown_column_in(&text) {
            return Self::new(
                ErrorCode::ColumnNotFound,
                format!("{what} `{sql}` names column `{column}`, which the table does not have"),
            )
            .with_source(err);
        } else if matches!(err, lance::Error::IO { .. }) {
            ErrorCode::Io
        } else {
            ErrorCode::InvalidPredicate
        };
        Self::new(
            code,
            format!(
                "{what} `{sql}` is not valid SQL for this table: {}",
                first_line(&text)
            ),
        )
        .with_source(err)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Extracts the column name from datafusion/lance "no field named" style messages.
fn unknown_column_in(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    for marker in [
        "no field named ",
        "field not found: ",
        "column not found: ",
        "does not exist in schema",
    ] {
        if let Some(pos) = lower.find(marker) {
            if marker == "does not exist in schema" {
                return Some(extract_quoted(&text[..pos]).unwrap_or_default());
            }
            let rest = &text[pos + marker.len()..];
            let name = extract_quoted(rest).unwrap_or_else(|| {
                rest.split(|c: char| c.is_whitespace() || c == ',' || c == '.')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            });
            return Some(name);
        }
    }
    None
}

fn extract_quoted(text: &str) -> Option<String> {
    for quote in ['"', '`', '\''] {
        let mut parts = text.split(quote);
        if let (Some(_), Some(inner)) = (parts.next(), parts.next()) {
            if parts.next().is_some() && !inner.is_empty() {
                return Some(inner.to_string());
            }
        }
    }
    None
}

/// Lance messages carry a source location after the text; users need only the text.
pub(crate) fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or(text);
    match line.rfind(", /") {
        Some(pos) => line[..pos].to_string(),
        None => line.to_string(),
    }
}

impl From<lance::Error> for Error {
    fn from(err: lance::Error) -> Self {
        use lance::Error as L;
        let text = first_line(&err.to_string());
        let code = match &err {
            L::DatasetNotFound { .. } | L::NotFound { .. } => ErrorCode::TableNotFound,
            L::DatasetAlreadyExists { .. } => ErrorCode::TableExists,
            L::SchemaMismatch { .. } | L::Schema { .. } | L::Arrow { .. } => {
                ErrorCode::SchemaMismatch
            }
            L::FieldNotFound { .. } => ErrorCode::ColumnNotFound,
            L::CorruptFile { .. } => ErrorCode::CorruptTable,
            L::CommitConflict { .. }
            | L::RetryableCommitConflict { .. }
            | L::IncompatibleTransaction { .. }
            | L::TooMuchWriteContention { .. } => ErrorCode::CommitConflict,
            L::VersionNotFound { .. } => ErrorCode::VersionNotFound,
            L::RefNotFound { .. } => ErrorCode::TagNotFound,
            L::IO { .. } => ErrorCode::Io,
            L::InvalidInput { .. } | L::NotSupported { .. } | L::InvalidRef { .. } => {
                if unknown_column_in(&text).is_some() {
                    ErrorCode::ColumnNotFound
                } else {
                    ErrorCode::InvalidArgument
                }
            }
            _ => ErrorCode::Internal,
        };
        Self::new(code, text).with_source(err)
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(err: arrow_schema::ArrowError) -> Self {
        Self::new(ErrorCode::SchemaMismatch, err.to_string()).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_unknown_column_names() {
        assert_eq!(
            unknown_column_in("Schema error: No field named nope. Valid fields are a, b."),
            Some("nope".to_string())
        );
        assert_eq!(
            unknown_column_in("No field named \"weird name\""),
            Some("weird name".to_string())
        );
        assert_eq!(unknown_column_in("syntax error near WHERE"), None);
    }

    #[test]
    fn strips_source_locations() {
        assert_eq!(
            first_line("Invalid user input: bad, /root/.cargo/x.rs:1:2\nmore"),
            "Invalid user input: bad"
        );
    }
}
