//! Vietnamese citizen identity numbers (CCCD, 12 digits) and the QR code
//! printed on the chip-based card, as the front desk of a UBND office scans it.
//!
//! A CCCD is `PPP G YY NNNNNN`: the province of birth registration (one of
//! the 63 codes of Circular 07/2016/TT-BCA), a digit for century and sex
//! (0/1: 1900s male/female, 2/3: 2000s, 4/5: 2100s, …), the last two digits
//! of the birth year, and six serial digits. Given a birth date, the century,
//! year and sex must agree with it.
//!
//! The QR text is `CCCD|CMND|full name|DDMMYYYY birth|sex|address|DDMMYYYY
//! issue date` (the old 9-digit CMND may be empty). Every failure names the
//! field that is wrong, for the operator's screen.

use serde::Serialize;

/// Province codes (Circular 07/2016/TT-BCA, Appendix).
const PROVINCES: &[(u16, &str)] = &[
    (1, "Hà Nội"),
    (2, "Hà Giang"),
    (4, "Cao Bằng"),
    (6, "Bắc Kạn"),
    (8, "Tuyên Quang"),
    (10, "Lào Cai"),
    (11, "Điện Biên"),
    (12, "Lai Châu"),
    (14, "Sơn La"),
    (15, "Yên Bái"),
    (17, "Hòa Bình"),
    (19, "Thái Nguyên"),
    (20, "Lạng Sơn"),
    (22, "Quảng Ninh"),
    (24, "Bắc Giang"),
    (25, "Phú Thọ"),
    (26, "Vĩnh Phúc"),
    (27, "Bắc Ninh"),
    (30, "Hải Dương"),
    (31, "Hải Phòng"),
    (33, "Hưng Yên"),
    (34, "Thái Bình"),
    (35, "Hà Nam"),
    (36, "Nam Định"),
    (37, "Ninh Bình"),
    (38, "Thanh Hóa"),
    (40, "Nghệ An"),
    (42, "Hà Tĩnh"),
    (44, "Quảng Bình"),
    (45, "Quảng Trị"),
    (46, "Thừa Thiên Huế"),
    (48, "Đà Nẵng"),
    (49, "Quảng Nam"),
    (51, "Quảng Ngãi"),
    (52, "Bình Định"),
    (54, "Phú Yên"),
    (56, "Khánh Hòa"),
    (58, "Ninh Thuận"),
    (60, "Bình Thuận"),
    (62, "Kon Tum"),
    (64, "Gia Lai"),
    (66, "Đắk Lắk"),
    (67, "Đắk Nông"),
    (68, "Lâm Đồng"),
    (70, "Bình Phước"),
    (72, "Tây Ninh"),
    (74, "Bình Dương"),
    (75, "Đồng Nai"),
    (77, "Bà Rịa - Vũng Tàu"),
    (79, "TP. Hồ Chí Minh"),
    (80, "Long An"),
    (82, "Tiền Giang"),
    (83, "Bến Tre"),
    (84, "Trà Vinh"),
    (86, "Vĩnh Long"),
    (87, "Đồng Tháp"),
    (89, "An Giang"),
    (91, "Kiên Giang"),
    (92, "Cần Thơ"),
    (93, "Hậu Giang"),
    (94, "Sóc Trăng"),
    (95, "Bạc Liêu"),
    (96, "Cà Mau"),
];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CccdError {
    #[error("CCCD must be exactly 12 digits (got {0:?})")]
    Format(String),
    #[error("CCCD {cccd}: {code:03} is not a province code")]
    Province { cccd: String, code: u16 },
    #[error("CCCD {cccd} says born in {year} ({sex}), but the birth date is {birth}")]
    Inconsistent { cccd: String, year: u16, sex: &'static str, birth: String },
    #[error("QR code: expected 7 fields separated by '|' (CCCD|CMND|name|birth date|sex|address|issue date), got {0}")]
    QrFields(usize),
    #[error("QR code field {field}: {reason}")]
    QrField { field: &'static str, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    fn vi(self) -> &'static str {
        match self {
            Sex::Male => "Nam",
            Sex::Female => "Nữ",
        }
    }
}

/// A calendar date (validated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// A real date of 1900 or later (the calendar is jiff's).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let year_i16 = i16::try_from(year).ok()?;
        jiff::civil::Date::new(year_i16, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()?;
        (year >= 1900).then_some(Date { year, month, day })
    }

    /// The same date as jiff's civil date.
    pub fn civil(self) -> jiff::civil::Date {
        // Every `Date` was checked by `new` (or is a jiff date): in range.
        jiff::civil::date(self.year as i16, self.month as i8, self.day as i8)
    }

    /// `DDMMYYYY` as printed in the QR code.
    pub fn parse_ddmmyyyy(s: &str) -> Option<Date> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Date::new(s[4..8].parse().ok()?, s[2..4].parse().ok()?, s[0..2].parse().ok()?)
    }

    /// `YYYY-MM-DD`.
    pub fn parse_iso(s: &str) -> Option<Date> {
        let mut it = s.splitn(3, '-');
        let (y, m, d) = (it.next()?, it.next()?, it.next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    }
}

impl From<jiff::civil::Date> for Date {
    fn from(d: jiff::civil::Date) -> Date {
        // jiff's years are -9999..=9999; dates before year 0 never reach here
        // (they come from clocks and from dates `new` accepted).
        Date { year: d.year().max(0) as u16, month: d.month() as u8, day: d.day() as u8 }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// What a valid CCCD says about its holder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cccd {
    pub number: String,
    pub province: &'static str,
    pub birth_year: u16,
    pub sex: Sex,
}

/// Validates a CCCD number, and its agreement with `birth` when given.
pub fn validate(number: &str, birth: Option<Date>) -> Result<Cccd, CccdError> {
    let number = number.trim();
    if number.len() != 12 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CccdError::Format(number.chars().take(20).collect()));
    }
    let digit = |i: usize| (number.as_bytes()[i] - b'0') as u16;
    let code = digit(0) * 100 + digit(1) * 10 + digit(2);
    let province = PROVINCES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
        .ok_or(CccdError::Province { cccd: number.to_string(), code })?;
    let g = digit(3);
    let century = 1900 + (g / 2) * 100;
    let sex = if g % 2 == 0 { Sex::Male } else { Sex::Female };
    let birth_year = century + digit(4) * 10 + digit(5);
    if let Some(b) = birth
        && b.year != birth_year
    {
        return Err(CccdError::Inconsistent {
            cccd: number.to_string(),
            year: birth_year,
            sex: sex.vi(),
            birth: b.to_string(),
        });
    }
    Ok(Cccd { number: number.to_string(), province, birth_year, sex })
}

/// A visitor's card, read from its QR code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardQr {
    pub cccd: Cccd,
    /// Former 9-digit CMND, if printed.
    pub cmnd: Option<String>,
    pub name: String,
    pub birth_date: Date,
    pub sex: Sex,
    pub address: String,
    pub issue_date: Date,
}

/// Parses the chip card's QR text; `today` bounds the issue date.
pub fn parse_qr(text: &str, today: Date) -> Result<CardQr, CccdError> {
    let fields: Vec<&str> = text.trim().split('|').collect();
    if fields.len() != 7 {
        return Err(CccdError::QrFields(fields.len()));
    }
    let bad = |field: &'static str, reason: String| CccdError::QrField { field, reason };
    let birth_date = Date::parse_ddmmyyyy(fields[3])
        .ok_or_else(|| bad("birth date", format!("{:?} is not a date DDMMYYYY", fields[3])))?;
    let cccd = validate(fields[0], Some(birth_date)).map_err(|e| bad("CCCD", e.to_string()))?;
    let cmnd = match fields[1].trim() {
        "" => None,
        c if c.len() == 9 && c.bytes().all(|b| b.is_ascii_digit()) => Some(c.to_string()),
        c => return Err(bad("CMND", format!("{c:?} is not 9 digits"))),
    };
    let name = fields[2].trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(|c| c.is_control()) {
        return Err(bad("name", "must be 1–100 printable characters".into()));
    }
    let sex = match fields[4].trim() {
        "Nam" | "nam" => Sex::Male,
        "Nữ" | "nữ" | "Nu" | "nu" => Sex::Female,
        s => return Err(bad("sex", format!("{s:?} is neither Nam nor Nữ"))),
    };
    if sex != cccd.sex {
        return Err(bad("sex", format!("{} but the CCCD's century digit says {}", sex.vi(), cccd.sex.vi())));
    }
    let issue_date = Date::parse_ddmmyyyy(fields[6])
        .ok_or_else(|| bad("issue date", format!("{:?} is not a date DDMMYYYY", fields[6])))?;
    if issue_date < birth_date || issue_date > today {
        return Err(bad("issue date", format!("{issue_date} is before the birth date or in the future")));
    }
    Ok(CardQr {
        cccd,
        cmnd,
        name: name.to_string(),
        birth_date,
        sex,
        address: fields[5].trim().chars().take(300).collect(),
        issue_date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Date = Date { year: 2026, month: 11, day: 22 };

    #[test]
    fn valid_numbers_say_province_year_and_sex() {
        let c = validate("035192004518", None).expect("valid");
        assert_eq!((c.province, c.birth_year, c.sex), ("Hà Nam", 1992, Sex::Female));
        let c = validate("079203001234", Date::new(2003, 5, 1)).expect("valid");
        assert_eq!((c.province, c.birth_year, c.sex), ("TP. Hồ Chí Minh", 2003, Sex::Male));
    }

    #[test]
    fn malformed_numbers_are_explained() {
        assert!(matches!(validate("03519200451", None), Err(CccdError::Format(_))));
        assert!(matches!(validate("03519200451x", None), Err(CccdError::Format(_))));
        assert!(matches!(validate("003192004518", None), Err(CccdError::Province { code: 3, .. })));
        let e = validate("035192004518", Date::new(1993, 1, 1)).expect_err("1992 ≠ 1993");
        assert!(e.to_string().contains("born in 1992"), "{e}");
    }

    #[test]
    fn qr_text_fills_the_form() {
        let q =
            parse_qr("035192004518|168123456|Trần Thị Bình|14031992|Nữ|Phủ Lý, Hà Nam|01072021", TODAY).expect("valid");
        assert_eq!(q.name, "Trần Thị Bình");
        assert_eq!(q.birth_date, Date { year: 1992, month: 3, day: 14 });
        assert_eq!(q.cmnd.as_deref(), Some("168123456"));
        assert_eq!(q.cccd.province, "Hà Nam");
        let q = parse_qr("035192004518||Trần Thị Bình|14031992|Nữ|Phủ Lý|01072021", TODAY).expect("no CMND");
        assert_eq!(q.cmnd, None);
    }

    #[test]
    fn malformed_qr_text_names_the_field() {
        let field = |text: &str| match parse_qr(text, TODAY) {
            Err(CccdError::QrField { field, .. }) => field.to_string(),
            Err(CccdError::QrFields(n)) => format!("{n} fields"),
            other => format!("{other:?}"),
        };
        assert_eq!(field("035192004518|Trần Thị Bình|14031992"), "3 fields");
        assert_eq!(field("035192004518||Trần Thị Bình|31021992|Nữ|x|01072021"), "birth date");
        assert_eq!(field("035192004518||Trần Thị Bình|14031993|Nữ|x|01072021"), "CCCD");
        assert_eq!(field("035192004518||Trần Thị Bình|14031992|Nam|x|01072021"), "sex");
        assert_eq!(field("035192004518|12|Trần Thị Bình|14031992|Nữ|x|01072021"), "CMND");
        assert_eq!(field("035192004518||Trần Thị Bình|14031992|Nữ|x|01072030"), "issue date");
        assert_eq!(field("035192004518|||14031992|Nữ|x|01072021"), "name");
    }
}
