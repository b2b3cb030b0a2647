//! Amounts as people write them (`12.50`) to and from the integer minor units the
//! pipeline counts in (`1250`), without floating point on the way.
//!
//! Every currency is counted in hundredths: the fee schedule and the limits of the
//! processor are written that way (`policy.rs`), so a currency with another minor
//! unit (JPY, KWD) still has two decimals here.

/// Decimals of every amount: 1.00 is 100 minor units.
pub const DECIMALS: u32 = 2;

const SCALE: i64 = 10_i64.pow(DECIMALS);

/// Why a text is not an amount. Each message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("the amount is empty; write it like 12.50")]
    Empty,
    #[error(
        "{input:?} is not an amount: write digits with an optional '.' and at most {DECIMALS} decimals, like 12.50"
    )]
    Malformed { input: String },
    #[error("{input:?} uses ',' for decimals; write a '.' (12.50) and no thousands separators")]
    Comma { input: String },
    #[error("{input:?} has more than {DECIMALS} decimals; amounts are counted in hundredths")]
    TooPrecise { input: String },
    #[error(
        "{input:?} is too large: the largest amount is {}",
        format_minor(i64::MAX)
    )]
    TooLarge { input: String },
}

/// Parses `12.50`, `12.5`, `12` or `-3.00` into minor units (`1250`, `1250`, `1200`,
/// `-300`). Surrounding whitespace is ignored; signs other than a leading `-`,
/// exponents, separators and more than [`DECIMALS`] decimals are refused. A zero or
/// negative amount parses: refusing it is the processor's rule (`INVALID_AMOUNT`),
/// reported back as a rejection.
pub fn parse_minor(text: &str) -> Result<i64, AmountError> {
    let input = text.trim();
    if input.is_empty() {
        return Err(AmountError::Empty);
    }
    let malformed = || AmountError::Malformed {
        input: input.to_owned(),
    };
    let (negative, unsigned) = match input.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        if input.contains(',') {
            return Err(AmountError::Comma {
                input: input.to_owned(),
            });
        }
        return Err(malformed());
    }
    let fraction = fraction.unwrap_or("");
    if fraction.len() > DECIMALS as usize {
        return Err(AmountError::TooPrecise {
            input: input.to_owned(),
        });
    }
    let too_large = || AmountError::TooLarge {
        input: input.to_owned(),
    };
    let whole: i64 = whole.parse().map_err(|_| too_large())?;
    let mut cents: i64 = fraction.parse().unwrap_or(0);
    for _ in fraction.len()..DECIMALS as usize {
        cents *= 10;
    }
    let magnitude = whole
        .checked_mul(SCALE)
        .and_then(|minor| minor.checked_add(cents))
        .ok_or_else(too_large)?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// Minor units as people read them: `1250` is `12.50`, `-5` is `-0.05`.
pub fn format_minor(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    let scale = SCALE.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        magnitude / scale,
        magnitude % scale,
        width = DECIMALS as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_become_minor_units() {
        let cases = [
            ("12.50", 1250),
            ("12.5", 1250),
            ("12", 1200),
            ("0.01", 1),
            ("0.1", 10),
            ("  7.05 ", 705),
            ("000.30", 30),
            ("0", 0),
            ("-3.00", -300),
            ("-0.05", -5),
            ("92233720368547758.07", i64::MAX),
        ];
        for (text, minor) in cases {
            assert_eq!(parse_minor(text), Ok(minor), "{text:?}");
        }
    }

    #[test]
    fn what_is_not_an_amount_says_why() {
        let malformed = [
            "abc", "1.2.3", ".5", "5.", "+5", "1e3", "- 5", "--5", "5-", "½", "NaN",
        ];
        for text in malformed {
            assert!(
                matches!(parse_minor(text), Err(AmountError::Malformed { .. })),
                "{text:?}: {:?}",
                parse_minor(text)
            );
        }
        assert_eq!(parse_minor("   "), Err(AmountError::Empty));
        assert!(matches!(
            parse_minor("12,50"),
            Err(AmountError::Comma { .. })
        ));
        assert!(matches!(
            parse_minor("1,000.00"),
            Err(AmountError::Comma { .. })
        ));
        assert!(matches!(
            parse_minor("0.001"),
            Err(AmountError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_minor("92233720368547758.08"),
            Err(AmountError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_minor("99999999999999999999"),
            Err(AmountError::TooLarge { .. })
        ));
        let message = parse_minor("12,50").unwrap_err().to_string();
        assert!(message.contains("'.'"), "{message}");
    }

    #[test]
    fn minor_units_print_with_two_decimals() {
        assert_eq!(format_minor(1250), "12.50");
        assert_eq!(format_minor(5), "0.05");
        assert_eq!(format_minor(0), "0.00");
        assert_eq!(format_minor(-5), "-0.05");
        assert_eq!(format_minor(-120_000), "-1200.00");
        assert_eq!(format_minor(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn printed_amounts_parse_back() {
        for minor in [0, 1, 9, 10, 99, 100, 12_345, -1, -100, i64::MAX] {
            assert_eq!(parse_minor(&format_minor(minor)), Ok(minor));
        }
    }
}
