//! Vaccine products: the series, the interval between doses, the age range.

use diesel::prelude::*;

use crate::db::schema::products;
use crate::db::AnyConnection;
use crate::domain::eligibility::Series;
use crate::ids::ProductId;

/// A vaccine product.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable, AsChangeset)]
#[diesel(table_name = products, treat_none_as_null = true)]
pub struct Product {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub manufacturer: String,
    pub doses_in_series: i32,
    pub min_interval_days: i32,
    pub max_interval_days: i32,
    pub min_age_years: i32,
    pub max_age_years: i32,
    pub pack_size: i32,
    /// The English name, when set (see [`super::LocalName`]).
    pub name_en: Option<String>,
}

impl super::LocalName for Product {
    fn local_name(&self, lang: crate::i18n::Lang) -> &str {
        super::in_lang(lang, &self.name, self.name_en.as_deref())
    }
}

impl Product {
    /// What the eligibility rules need of this product.
    pub fn series(&self) -> Series {
        Series {
            product_id: self.id,
            doses: self.doses_in_series,
            min_interval_days: self.min_interval_days,
            max_interval_days: self.max_interval_days,
            min_age_years: self.min_age_years,
            max_age_years: self.max_age_years,
        }
    }
}

/// A product to insert (the same columns).
pub type NewProduct = Product;

/// One product.
pub fn find(conn: &mut AnyConnection, id: ProductId) -> QueryResult<Option<Product>> {
    super::find_one(conn, products::table.find(id.0))
}

/// Every product.
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<Product>> {
    super::load_all(conn, products::table.order(products::code.asc()))
}

/// Insert one row.
pub fn insert(conn: &mut AnyConnection, row: &NewProduct) -> QueryResult<()> {
    super::insert_into(conn, products::table, row)
}

/// Overwrite a product's fields; false if it does not exist.
pub fn update(conn: &mut AnyConnection, row: &NewProduct) -> QueryResult<bool> {
    super::update_one(conn, products::table.find(row.id), row)
}

/// Whether any dose of the product has been given.
pub fn has_been_given(conn: &mut AnyConnection, id: ProductId) -> QueryResult<bool> {
    use crate::db::schema::vaccinations;
    let n: i64 = vaccinations::table
        .filter(vaccinations::product_id.eq(id.0))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The id of the product with this code, if any.
pub fn find_id_by_code(conn: &mut AnyConnection, code: &str) -> QueryResult<Option<i64>> {
    products::table
        .filter(products::code.eq(code))
        .select(products::id)
        .get_result(conn)
        .optional()
}
