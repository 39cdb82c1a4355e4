//! Row types, declared once for every way the store reads them.
//!
//! A record's struct is its mapping: field names are column names. `record!` (below) derives
//! `sqlx::FromRow` (the readers of both backends) and [`Column`] (the SQLite writer, which
//! reads the rows its writes return through rusqlite: see `sqlite/writer.rs`) from the same
//! field list, so a column is named in one place and read the same way everywhere.

/// A value the SQLite writer reads from a rusqlite row: one column's (anything rusqlite reads),
/// or a whole record's, which reads its own columns (a record flattened into another).
pub(crate) trait Column: Sized {
    /// Reads the value of `column` (a record ignores it and reads its fields' columns).
    fn read(row: &rusqlite::Row<'_>, column: &str) -> rusqlite::Result<Self>;
}

impl<T: rusqlite::types::FromSql> Column for T {
    fn read(row: &rusqlite::Row<'_>, column: &str) -> rusqlite::Result<T> {
        row.get(column)
    }
}

/// A record (a type declared with `record!`): the row's columns as one value.
pub(crate) trait Record: Column {}

/// Reads a whole record from a rusqlite row: the mapper the writer's queries take.
pub(crate) fn read<T: Record>(row: &rusqlite::Row<'_>) -> rusqlite::Result<T> {
    T::read(row, "")
}

/// Declares a record: the struct as written, with `sqlx::FromRow` and the writer's [`Column`].
/// Field attributes are sqlx's (`#[sqlx(flatten)]` for a record within the row,
/// `#[sqlx(try_from = "i64")]` for an integer Postgres has no column type for); the writer
/// reads a flattened record from the same row, and converts integers with rusqlite's checks.
macro_rules! record {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_attr:meta])*
                pub $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$attr])*
        #[derive(sqlx::FromRow)]
        pub struct $name {
            $(
                $(#[$field_attr])*
                pub $field: $ty,
            )*
        }

        impl $crate::store::record::Column for $name {
            fn read(row: &rusqlite::Row<'_>, _column: &str) -> rusqlite::Result<$name> {
                Ok($name {
                    $($field: $crate::store::record::Column::read(row, stringify!($field))?,)*
                })
            }
        }

        impl $crate::store::record::Record for $name {}
    };
}
