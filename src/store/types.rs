//! Domain ids as SQLite values: bound as the text they are, and checked
//! again when read back (a stored row is parsed, not trusted).

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Sqlite, Type};

use crate::domain::AccountId;
use crate::domain::import::PostalAddress;

impl Type<Sqlite> for AccountId {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for AccountId {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <String as Encode<'q, Sqlite>>::encode_by_ref(&self.as_str().to_string(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for AccountId {
    fn decode(value: SqliteValueRef<'r>) -> Result<AccountId, BoxDynError> {
        let s = <&str as Decode<'r, Sqlite>>::decode(value)?;
        AccountId::parse(s).map_err(|e| format!("stored {e}").into())
    }
}

/// An account's postal address, from its six columns in any row that selects them.
impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for PostalAddress {
    fn from_row(r: &'r sqlx::sqlite::SqliteRow) -> Result<PostalAddress, sqlx::Error> {
        use sqlx::Row;
        let [a, b, c, d, e, f] = PostalAddress::COLUMNS;
        Ok(PostalAddress::from_parts([
            r.try_get(a)?,
            r.try_get(b)?,
            r.try_get(c)?,
            r.try_get(d)?,
            r.try_get(e)?,
            r.try_get(f)?,
        ]))
    }
}
