//! Table-name rules: a name becomes a directory, so it must never escape the database root.

use crate::error::{Error, Result};

/// A table is the directory `<name>.lance`, and file names are limited to 255 bytes.
const MAX_NAME_LEN: usize = 249;

/// Accepts letters, digits, `_`, `-` and `.`; rejects empty names, `..`, and anything longer
/// than 249 bytes.
pub fn validate_table_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("it is empty".to_string())
    } else if name.len() > MAX_NAME_LEN {
        Some(format!("it is longer than {MAX_NAME_LEN} bytes"))
    } else if name.contains("..") {
        Some("it contains `..`".to_string())
    } else if name.starts_with('.') {
        Some("it starts with `.`".to_string())
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .map(|c| format!("it contains {c:?}"))
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(Error::invalid_argument(format!(
            "invalid table name {name:?}: {why}; use letters, digits, `_`, `-` and `.` only"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for name in ["quotes", "a.b", "A_1-x", "v2.lance_backup"] {
            validate_table_name(name).unwrap();
        }
    }

    #[test]
    fn rejects_escapes_and_junk() {
        for name in [
            "",
            "..",
            "a/b",
            "a\\b",
            "../x",
            ".hidden",
            "x y",
            "é",
            &"a".repeat(250),
        ] {
            let err = validate_table_name(name).unwrap_err();
            assert_eq!(err.code, crate::ErrorCode::InvalidArgument, "{name:?}");
        }
    }
}
