//! Checks on SQL text the caller passes (filters, predicates, value expressions) before lance
//! parses it, and the short form of it quoted back in error messages.

use crate::error::{Error, ErrorCode, Result};

/// SQL quoted in messages is cut to this many characters.
const QUOTED_CHARS: usize = 120;

/// Rejects text that is more than one expression. lance's parser stops at the first `;` and
/// silently ignores the rest, so `id = 1; DROP TABLE t` would run as `id = 1`.
pub(crate) fn check_single_expression(sql: &str, what: &str) -> Result<()> {
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, ';') => {
                return Err(Error::new(
                    ErrorCode::InvalidPredicate,
                    format!(
                        "{what} `{}` contains `;`: pass one SQL expression, without statement separators",
                        quoted(sql)
                    ),
                ))
            }
            (None, _) => {}
        }
    }
    Ok(())
}

/// `sql` as quoted in a message: whole when short, else its start and its length.
pub(crate) fn quoted(sql: &str) -> String {
    if sql.chars().count() <= QUOTED_CHARS {
        return sql.to_string();
    }
    let head: String = sql.chars().take(QUOTED_CHARS).collect();
    format!("{head}… ({} bytes)", sql.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_outside_quotes_are_rejected() {
        assert!(check_single_expression("id = 1; DROP TABLE t", "the filter").is_err());
        assert!(check_single_expression("0); DELETE FROM t; --", "the value").is_err());
        assert!(check_single_expression("name = 'a;b' AND `x;y` > 1", "the filter").is_ok());
        assert!(check_single_expression("note = 'it''s; fine'", "the filter").is_ok());
    }

    #[test]
    fn long_sql_is_shortened_in_messages() {
        let long = "(".repeat(10_000);
        let q = quoted(&long);
        assert!(q.len() < 200 && q.ends_with("(10000 bytes)"), "{q}");
        assert_eq!(quoted("id = 1"), "id = 1");
    }
}
