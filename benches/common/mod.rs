//! What the HTTP harnesses (`load`, `rush`) share: their `--flag value` arguments and the
//! distinct valid ID numbers of their residents.

use dosewise::domain::IdNumber;

/// Hand each `--flag value` pair of the command line to `set`, which answers whether it knew
/// the flag; anything else (such as cargo's `--bench`) is passed over alone.
pub fn read_flags(mut set: impl FnMut(&str, String) -> bool) {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let next = argv.get(i + 1).cloned().unwrap_or_default();
        i += if set(&argv[i], next) { 2 } else { 1 };
    }
}

/// A distinct valid ID number for resident `n` (born 1960-2009); `salt` keeps runs apart.
pub fn id_number(n: u32, salt: u32) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).unwrap()
        + chrono::Duration::days(i64::from(n % 18_000));
    let region = 110_101 + (salt % 500) * 100 + (n / 18_000) % 100;
    let first17 = format!(
        "{region}{}{:03}",
        birth.format("%Y%m%d"),
        (n / 1_800_000) % 1000
    );
    IdNumber::with_check_digit(&first17)
        .unwrap()
        .expose()
        .to_string()
}
