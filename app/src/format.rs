//! Numbers for people: each with its unit, and with the precision the number has.
//!
//! Every function shows a value that is not a number (NaN, infinite) as "–", so a hole in
//! the data reads as one instead of as "NaN ms". A tiny non-zero amount never shows as zero
//! ("$0.00021", never "$0.00"), and a share just under 100 % never shows as 100 %.

/// What a missing or meaningless value shows as.
pub const MISSING: &str = "–";

/// A latency in milliseconds: "412 ms", "38.5 ms" (one decimal below 100 ms), "1.8 s" or
/// "1.25 s" (seconds from 1,000 ms, up to two decimals), "12 s" (whole seconds from 10 s).
pub fn ms(v: f64) -> String {
    if !v.is_finite() {
        return MISSING.to_owned();
    }
    if v < 0.0 {
        return format!("-{}", ms(-v));
    }
    if v == 0.0 {
        return "0 ms".to_owned();
    }
    if v < 0.1 {
        return format!("{} ms", significant(v, 2));
    }
    if round_to(v, 1) < 100.0 {
        return format!("{v:.1} ms");
    }
    if v.round() < 1000.0 {
        return format!("{v:.0} ms");
    }
    let s = v / 1000.0;
    if round_to(s, 2) < 10.0 {
        // Two decimals, but a trailing zero goes ("1.8 s", not "1.80 s"); one always stays.
        let text = format!("{s:.2}");
        let text = text.strip_suffix('0').unwrap_or(&text);
        return format!("{text} s");
    }
    format!("{} s", thousands(s.round()))
}

/// Dollars: "$3.12", "$0.42"; below one cent two significant digits ("$0.00021",
/// "$0.0035"), never "$0.00"; exactly zero is "$0".
pub fn usd(v: f64) -> String {
    if !v.is_finite() {
        return MISSING.to_owned();
    }
    if v < 0.0 {
        return format!("-{}", usd(-v));
    }
    if v == 0.0 {
        return "$0".to_owned();
    }
    if v < 0.01 {
        return format!("${}", trim_zeros(&significant(v, 2)));
    }
    let cents = round_to(v, 2);
    let whole = cents.trunc();
    let frac = ((cents - whole) * 100.0).round();
    format!("${}.{:02}", thousands(whole), frac as u64)
}

/// A share in 0..1 as a percentage: "12 %", "100 %", "0 %"; two significant digits below
/// 10 % ("0.93 %", "5.0 %"). A share just under one keeps the decimals it needs ("99.6 %").
pub fn percent(share: f64) -> String {
    if !share.is_finite() {
        return MISSING.to_owned();
    }
    if share < 0.0 {
        return format!("-{}", percent(-share));
    }
    let p = share * 100.0;
    if p == 0.0 {
        return "0 %".to_owned();
    }
    if p < 10.0 {
        let text = significant(p, 2);
        // 9.99 % rounds to "10", which reads better as "10 %" below.
        if text.parse::<f64>().is_ok_and(|x| x < 10.0) {
            return format!("{text} %");
        }
    }
    let mut decimals = 0;
    // Rounding up to 100 would claim a perfect record that is not there.
    while p < 100.0 && round_to(p, decimals) >= 100.0 && decimals < 6 {
        decimals += 1;
    }
    if decimals == 0 {
        format!("{} %", thousands(p.round()))
    } else if round_to(p, decimals) >= 100.0 {
        // Closer to 100 than six decimals show: cut them off rather than round up.
        format!("{:.*} %", decimals as usize, (p * 1e6).floor() / 1e6)
    } else {
        format!("{p:.*} %", decimals as usize)
    }
}

/// Generation speed: "85 tok/s", "8.5 tok/s" below 10.
pub fn tokens_per_s(v: f64) -> String {
    if !v.is_finite() {
        return MISSING.to_owned();
    }
    if v.abs() < 9.95 && v != 0.0 {
        return format!("{v:.1} tok/s");
    }
    format!("{} tok/s", thousands(v.round()))
}

/// An eval score in 0..1 with two decimals: "0.87", "1.00", "0.05".
pub fn score(v: f64) -> String {
    if !v.is_finite() {
        return MISSING.to_owned();
    }
    format!("{v:.2}")
}

/// A whole count with thousands separators: "12,345".
pub fn count(v: u64) -> String {
    group_digits(&v.to_string())
}

/// A token count: "950 tok", "45 k tok", "1.2 M tok" (one decimal below 10 of a unit).
pub fn tokens(v: u64) -> String {
    let v = v as f64;
    // From 0.9995 of a unit on, so that 999,960 tok is "1.0 M tok", not "1000 k tok".
    for (size, suffix) in [(1e9, "B"), (1e6, "M"), (1e3, "k")] {
        if v >= size * 0.9995 {
            let x = v / size;
            let text = if round_to(x, 1) < 10.0 {
                format!("{x:.1}")
            } else {
                thousands(x.round())
            };
            return format!("{text} {suffix} tok");
        }
    }
    format!("{v:.0} tok")
}

/// Short numbers for axis ticks: "950", "1.2k", "3M", "1.25k", "0.5" (three significant
/// digits at most, no trailing zeros).
pub fn compact(v: f64) -> String {
    if !v.is_finite() {
        return MISSING.to_owned();
    }
    if v < 0.0 {
        return format!("-{}", compact(-v));
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let mut x = v;
    let mut suffix = "";
    for next in ["k", "M", "B", "T"] {
        if trim_zeros(&significant(x, 3)).parse::<f64>().unwrap_or(x) < 1000.0 {
            break;
        }
        x /= 1000.0;
        suffix = next;
    }
    format!("{}{suffix}", trim_zeros(&significant(x, 3)))
}

/// What a chart's values are, which decides how they read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Unit {
    /// Milliseconds (latency, time to first token).
    #[default]
    Ms,
    /// Dollars.
    Usd,
    /// Dollars per request.
    UsdPerRequest,
    /// A share in 0..1, shown as a percentage.
    Share,
    /// Tokens per second.
    TokensPerS,
    /// A number of requests.
    Requests,
    /// A number of tokens.
    Tokens,
    /// An eval score in 0..1, shown as such ("0.87"), on an axis from 0 to 1.
    Score,
}

impl Unit {
    /// The full label of one value, for a tooltip or a table: "412 ms", "$0.00021 / req",
    /// "0.93 %", "85 tok/s", "1,204 req", "1.2 M tok".
    pub fn format(self, v: f64) -> String {
        if !v.is_finite() {
            return MISSING.to_owned();
        }
        match self {
            Unit::Ms => ms(v),
            Unit::Usd => usd(v),
            Unit::UsdPerRequest => format!("{} / req", usd(v)),
            Unit::Share => percent(v),
            Unit::TokensPerS => tokens_per_s(v),
            Unit::Requests => {
                if v.fract() == 0.0 {
                    format!("{} req", thousands(v))
                } else {
                    format!("{} req", trim_zeros(&format!("{v:.1}")))
                }
            }
            Unit::Tokens if v < 0.0 => format!("-{}", tokens((-v).round() as u64)),
            Unit::Tokens => tokens(v.round() as u64),
            Unit::Score => score(v),
        }
    }

    /// A short tick label: "400 ms", "1.5 s", "$0.002", "2 %", "85", "1.2k"; zero is "0"
    /// on every axis.
    pub fn axis(self, v: f64) -> String {
        if !v.is_finite() {
            return MISSING.to_owned();
        }
        if v == 0.0 {
            return "0".to_owned();
        }
        if v < 0.0 {
            return format!("-{}", self.axis(-v));
        }
        match self {
            Unit::Ms if v >= 1000.0 => format!("{} s", compact(v / 1000.0)),
            Unit::Ms => format!("{} ms", compact(v)),
            Unit::Usd | Unit::UsdPerRequest => format!("${}", compact(v)),
            Unit::Share => format!("{} %", compact(v * 100.0)),
            Unit::TokensPerS | Unit::Requests | Unit::Tokens | Unit::Score => compact(v),
        }
    }

    /// Whether a chart's y axis starts at zero whatever the data (amounts that add up:
    /// costs and counts). Rates and latencies may start above it.
    pub fn starts_at_zero(self) -> bool {
        matches!(self, Unit::Usd | Unit::UsdPerRequest | Unit::Requests | Unit::Tokens)
    }

    /// Whether the values are whole numbers, so that axis ticks are too.
    pub fn is_whole(self) -> bool {
        matches!(self, Unit::Requests | Unit::Tokens)
    }
}

/// The decimal exponent of `v` (0 for 1..10, -3 for 0.001..0.01).
fn magnitude(v: f64) -> i32 {
    v.abs().log10().floor() as i32
}

/// `v` rounded to `decimals` decimals (negative: to tens, hundreds...).
fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// `v` (positive, finite) with `digits` significant digits, zeros kept: 0.0035, 5.0, 120.
fn significant(v: f64, digits: i32) -> String {
    let decimals = (digits - 1 - magnitude(v)).max(0);
    // Rounding may carry into the next power of ten (0.00996 -> 0.010): one decimal fewer.
    let rounded = round_to(v, decimals);
    let decimals = (digits - 1 - magnitude(rounded)).max(0);
    format!("{v:.*}", decimals as usize)
}

/// "1.500" -> "1.5", "2.0" -> "2", "120" -> "120".
fn trim_zeros(text: &str) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text.to_owned()
    }
}

/// A whole, finite, non-negative f64 with thousands separators.
fn thousands(v: f64) -> String {
    group_digits(&format!("{v:.0}"))
}

fn group_digits(digits: &str) -> String {
    let (sign, digits) = digits.strip_prefix('-').map_or(("", digits), |d| ("-", d));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds() {
        assert_eq!(ms(412.0), "412 ms");
        assert_eq!(ms(412.4), "412 ms");
        assert_eq!(ms(38.46), "38.5 ms");
        assert_eq!(ms(5.0), "5.0 ms");
        assert_eq!(ms(99.96), "100 ms");
        assert_eq!(ms(999.4), "999 ms");
        assert_eq!(ms(999.6), "1.0 s");
        assert_eq!(ms(1800.0), "1.8 s");
        assert_eq!(ms(1834.0), "1.83 s");
        assert_eq!(ms(3000.0), "3.0 s");
        assert_eq!(ms(9996.0), "10 s");
        assert_eq!(ms(12_000.0), "12 s");
        assert_eq!(ms(12_400.0), "12 s");
        assert_eq!(ms(3_600_000.0), "3,600 s");
        assert_eq!(ms(0.0), "0 ms");
        assert_eq!(ms(0.042), "0.042 ms");
        assert_eq!(ms(-5.0), "-5.0 ms");
        assert_eq!(ms(f64::NAN), "–");
        assert_eq!(ms(f64::INFINITY), "–");
    }

    #[test]
    fn dollars() {
        assert_eq!(usd(3.12), "$3.12");
        assert_eq!(usd(3.1), "$3.10");
        assert_eq!(usd(0.42), "$0.42");
        assert_eq!(usd(0.01), "$0.01");
        assert_eq!(usd(0.00021), "$0.00021");
        assert_eq!(usd(0.0035), "$0.0035");
        assert_eq!(usd(0.003549), "$0.0035");
        assert_eq!(usd(0.0002), "$0.0002");
        assert_eq!(usd(0.0099), "$0.0099");
        assert_eq!(usd(0.00996), "$0.01");
        assert_eq!(usd(1e-9), "$0.000000001");
        assert_eq!(usd(0.0), "$0");
        assert_eq!(usd(1_234_567.891), "$1,234,567.89");
        assert_eq!(usd(-0.42), "-$0.42");
        assert_eq!(usd(f64::NAN), "–");
        for v in [1e-7, 0.0001, 0.004, 0.0049, 0.005, 0.0051] {
            assert_ne!(usd(v), "$0.00", "{v}");
            assert_ne!(usd(v), "$0", "{v}");
        }
    }

    #[test]
    fn percentages() {
        assert_eq!(percent(0.0093), "0.93 %");
        assert_eq!(percent(0.12), "12 %");
        assert_eq!(percent(0.0), "0 %");
        assert_eq!(percent(1.0), "100 %");
        assert_eq!(percent(0.05), "5.0 %");
        assert_eq!(percent(0.0999), "10 %");
        assert_eq!(percent(0.000012), "0.0012 %");
        assert_eq!(percent(0.996), "99.6 %");
        assert_eq!(percent(0.9996), "99.96 %");
        assert_eq!(percent(0.994), "99 %");
        assert_eq!(percent(0.999_999_999_9), "99.999999 %");
        assert_eq!(percent(1.5), "150 %");
        assert_eq!(percent(f64::NAN), "–");
    }

    #[test]
    fn speeds_counts_and_tokens() {
        assert_eq!(tokens_per_s(85.2), "85 tok/s");
        assert_eq!(tokens_per_s(8.46), "8.5 tok/s");
        assert_eq!(tokens_per_s(0.0), "0 tok/s");
        assert_eq!(tokens_per_s(12_345.0), "12,345 tok/s");
        assert_eq!(tokens_per_s(f64::NAN), "–");

        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(12_345), "12,345");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(u64::MAX), "18,446,744,073,709,551,615");

        assert_eq!(tokens(0), "0 tok");
        assert_eq!(tokens(950), "950 tok");
        assert_eq!(tokens(999), "999 tok");
        assert_eq!(tokens(1_000), "1.0 k tok");
        assert_eq!(tokens(45_000), "45 k tok");
        assert_eq!(tokens(999_960), "1.0 M tok");
        assert_eq!(tokens(1_200_000), "1.2 M tok");
        assert_eq!(tokens(3_400_000_000), "3.4 B tok");
        assert_eq!(tokens(u64::MAX), "18,446,744,074 B tok");
    }

    #[test]
    fn compact_ticks() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(0.5), "0.5");
        assert_eq!(compact(0.002), "0.002");
        assert_eq!(compact(85.0), "85");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(1000.0), "1k");
        assert_eq!(compact(1200.0), "1.2k");
        assert_eq!(compact(1250.0), "1.25k");
        assert_eq!(compact(999_999.0), "1M");
        assert_eq!(compact(3_000_000.0), "3M");
        assert_eq!(compact(4.5e9), "4.5B");
        assert_eq!(compact(-1500.0), "-1.5k");
        assert_eq!(compact(f64::NAN), "–");
    }

    #[test]
    fn unit_labels() {
        assert_eq!(Unit::Ms.format(412.0), "412 ms");
        assert_eq!(Unit::Usd.format(0.42), "$0.42");
        assert_eq!(Unit::UsdPerRequest.format(0.00021), "$0.00021 / req");
        assert_eq!(Unit::Share.format(0.0093), "0.93 %");
        assert_eq!(Unit::TokensPerS.format(85.0), "85 tok/s");
        assert_eq!(Unit::Requests.format(1204.0), "1,204 req");
        assert_eq!(Unit::Requests.format(2.5), "2.5 req");
        assert_eq!(Unit::Tokens.format(1_200_000.0), "1.2 M tok");
        assert_eq!(Unit::Score.format(0.8666), "0.87");
        assert_eq!(Unit::Score.format(1.0), "1.00");
        assert_eq!(Unit::Score.axis(0.8), "0.8");
        assert_eq!(score(0.049), "0.05");
        for unit in [
            Unit::Ms,
            Unit::Usd,
            Unit::UsdPerRequest,
            Unit::Share,
            Unit::Requests,
            Unit::Tokens,
            Unit::Score,
        ] {
            assert_eq!(unit.format(f64::NAN), "–");
            assert_eq!(unit.axis(f64::NAN), "–");
            assert_eq!(unit.axis(0.0), "0");
        }
    }

    #[test]
    fn axis_ticks() {
        assert_eq!(Unit::Ms.axis(400.0), "400 ms");
        assert_eq!(Unit::Ms.axis(2.5), "2.5 ms");
        assert_eq!(Unit::Ms.axis(1000.0), "1 s");
        assert_eq!(Unit::Ms.axis(1500.0), "1.5 s");
        assert_eq!(Unit::Ms.axis(1250.0), "1.25 s");
        assert_eq!(Unit::Usd.axis(0.002), "$0.002");
        assert_eq!(Unit::Usd.axis(1.5), "$1.5");
        assert_eq!(Unit::UsdPerRequest.axis(0.0005), "$0.0005");
        assert_eq!(Unit::Usd.axis(2500.0), "$2.5k");
        assert_eq!(Unit::Share.axis(0.02), "2 %");
        assert_eq!(Unit::Share.axis(0.005), "0.5 %");
        assert_eq!(Unit::Share.axis(1.0), "100 %");
        assert_eq!(Unit::TokensPerS.axis(85.0), "85");
        assert_eq!(Unit::Requests.axis(1200.0), "1.2k");
        assert_eq!(Unit::Tokens.axis(3_000_000.0), "3M");
        assert_eq!(Unit::Ms.axis(-400.0), "-400 ms");
    }
}
