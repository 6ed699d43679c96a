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
            let column = crate::sql_text::quoted(&column);
            return Self::new(
                ErrorCode::ColumnNotFound,
                format!(
                    "{what} `{}` names column `{column}`, which the table does not have",
                    crate::sql_text::quoted(sql)
                ),
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
                "{what} `{}` is not valid SQL for this table: {}",
                crate::sql_text::quoted(sql),
                crate::sql_text::quoted(&first_line(&text))
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

/// Lance messages carry source locations (`, /path/file.rs:12:34`) and repeat prefixes;
/// users need only the text.
pub fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or(text);
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find(", /") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let end = after
            .find(|c: char| c.is_whitespace() || c == ')' || c == ',')
            .unwrap_or(after.len());
        let token = &after[..end];
        if is_source_location(token) {
            rest = &after[end..];
        } else {
            out.push_str(", ");
            rest = after;
        }
    }
    out.push_str(rest);
    out.replace("Invalid user input: ", "")
        .trim_end_matches([',', ' '])
        .to_string()
}

fn is_source_location(token: &str) -> bool {
    let mut parts = token.rsplitn(3, ':');
    let (Some(col), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    file.ends_with(".rs")
        && !col.is_empty()
        && col.chars().all(|c| c.is_ascii_digit())
        && line.chars().all(|c| c.is_ascii_digit())
}

/// SQL that does not parse, reported by lance as plain invalid input.
fn is_sql_syntax_error(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("sql parser error") || lower.contains("error parsing statement")
}

/// The table file (`data/…`, `_deletions/…`, `_versions/…`, `_indices/…`) an error is about,
/// when it is about one.
fn table_file_in(text: &str) -> Option<String> {
    // Inside a table's directory (`<name>.lance/`), so a database path that happens to
    // contain `/data/` is not taken for a table file.
    const DIRS: [&str; 4] = [
        ".lance/data/",
        ".lance/_deletions/",
        ".lance/_versions/",
        ".lance/_indices/",
    ];
    let at = DIRS.iter().filter_map(|d| text.find(d)).min()?;
    let start = text[..at]
        .rfind(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '(')
        .map_or(0, |i| i + 1);
    let end = text[at..]
        .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ')' || c == ',')
        .map_or(text.len(), |i| at + i);
    Some(text[start..end].trim_end_matches([':', '.']).to_string())
}

/// A read that failed because a file of the table is gone or damaged.
fn damaged_file(err: &lance::Error, text: &str) -> Option<String> {
    use lance::Error as L;
    let file = table_file_in(text)?;
    let lower = text.to_lowercase();
    let damaged = match err {
        L::NotFound { .. } | L::CorruptFile { .. } => true,
        L::IO { .. } | L::Internal { .. } | L::Arrow { .. } | L::InvalidInput { .. } => [
            "not found",
            "no such file",
            "range",
            "eof",
            "end of file",
            "truncat",
            "corrupt",
            "invalid",
            "decode",
            "magic",
            "footer",
            "out of bounds",
        ]
        .iter()
        .any(|needle| lower.contains(needle)),
        _ => false,
    };
    damaged.then_some(file)
}

impl From<lance::Error> for Error {
    fn from(err: lance::Error) -> Self {
        use lance::Error as L;
        let text = first_line(&err.to_string());
        if let Some(file) = damaged_file(&err, &text) {
            return Self::new(
                ErrorCode::CorruptTable,
                format!(
                    "the table file {file} is missing or damaged; versions that do not use it stay readable, and table.verify() lists every damaged file ({})",
                    crate::sql_text::quoted(&text)
                ),
            )
            .with_source(err);
        }
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
            L::RefConflict { .. } => ErrorCode::InvalidArgument,
            L::RefNotFound { .. } => ErrorCode::TagNotFound,
            L::IO { .. } => ErrorCode::Io,
            L::InvalidInput { .. } | L::NotSupported { .. } | L::InvalidRef { .. } => {
                if unknown_column_in(&text).is_some() {
                    ErrorCode::ColumnNotFound
                } else if is_sql_syntax_error(&text) {
                    ErrorCode::InvalidPredicate
                } else {
                    ErrorCode::InvalidArgument
                }
            }
            _ => ErrorCode::Internal,
        };
        Self::new(code, text).with_source(err)
    }
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(err: datafusion::error::DataFusionError) -> Self {
        Self::from(lance::Error::from(err))
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
    fn names_table_files_but_not_database_paths_that_contain_data() {
        assert_eq!(
            table_file_in("Not found: /srv/data/db/t.lance/data/ab-12.lance, read failed"),
            Some("/srv/data/db/t.lance/data/ab-12.lance".to_string())
        );
        assert_eq!(
            table_file_in("Dataset at path /srv/data/db/t.lance was not found"),
            None
        );
        assert_eq!(
            table_file_in("range out of bounds in /srv/data/db/t.lance/_versions/3.manifest."),
            Some("/srv/data/db/t.lance/_versions/3.manifest".to_string())
        );
    }

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
            "bad"
        );
        assert_eq!(
            first_line("outer: Invalid user input: inner (x, y), /a/b.rs:109:22, /c/d.rs:88:17"),
            "outer: inner (x, y)"
        );
        assert_eq!(
            first_line("keeps, /not/a/location"),
            "keeps, /not/a/location"
        );
    }

    #[test]
    fn sql_syntax_errors_are_invalid_predicates() {
        assert!(is_sql_syntax_error(
            "Error parsing statement: SELECT 1 (sql parser error: Expected: an expression)"
        ));
        assert!(!is_sql_syntax_error("No field named x"));
    }
}
