//! The data layer's enums as columns: [`ComponentKind`] and [`RunStatus`] are stored as their
//! wire names (`workflow`, `RUNNING`, ...) in text columns, on both backends and through the
//! SQLite writer's rusqlite connection. The impls live here so that the data layer knows no
//! database.

use crate::kind::ComponentKind;
use crate::run::RunStatus;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;

/// Implements sqlx's `Type`, `Encode` and `Decode` (any backend with text columns) and
/// rusqlite's `ToSql` and `FromSql` for an enum stored as `as_str()`, read back with `$parse`.
macro_rules! text_column {
    ($ty:ty, $parse:expr) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $ty
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $ty
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $ty
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<$ty, BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok($parse(text)?)
            }
        }

        impl rusqlite::ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        impl rusqlite::types::FromSql for $ty {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                $parse(value.as_str()?).map_err(|e| rusqlite::types::FromSqlError::Other(e.into()))
            }
        }
    };
}

text_column!(ComponentKind, str::parse::<ComponentKind>);

// Unknown text reads as `Error` (see `RunStatus::parse`): a bad row never hides.
text_column!(RunStatus, |text| Ok::<_, std::convert::Infallible>(
    RunStatus::parse(text)
));
