//! The CMOS real-time clock (MC146818) registers to Unix time.

/// Status register B: hours are 0–23 (else 1–12 with bit 7 meaning PM).
pub const STATUS_B_24_HOUR: u8 = 1 << 1;
/// Status register B: values are binary (else BCD).
pub const STATUS_B_BINARY: u8 = 1 << 2;

/// Raw register values as read from CMOS (registers 0x00, 0x02, 0x04, 0x07, 0x08,
/// 0x09, the FADT's century register if there is one, and status register B 0x0B).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtcRegisters {
    pub seconds: u8,
    pub minutes: u8,
    pub hours: u8,
    pub day: u8,
    pub month: u8,
    pub year: u8,
    /// The century register, when ACPI names one; without it the year is 20YY.
    pub century: Option<u8>,
    pub status_b: u8,
}

/// Seconds since 1970-01-01 00:00:00 UTC (the RTC is assumed to hold UTC, as QEMU's
/// default `-rtc base=utc` does). `None` for a register out of range or an invalid BCD
/// digit — for instance a read that raced an update.
pub fn rtc_to_unix(regs: &RtcRegisters) -> Option<u64> {
    let binary = regs.status_b & STATUS_B_BINARY != 0;
    let decode = |v: u8| if binary { Some(v) } else { from_bcd(v) };

    let pm = regs.status_b & STATUS_B_24_HOUR == 0 && regs.hours & 0x80 != 0;
    let mut hour = decode(regs.hours & 0x7f)?;
    if regs.status_b & STATUS_B_24_HOUR == 0 {
        // 12-hour clock: 12 AM is midnight, 12 PM is noon.
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let (minute, second) = (decode(regs.minutes)?, decode(regs.seconds)?);
    let (day, month) = (decode(regs.day)?, decode(regs.month)?);
    let century = match regs.century {
        Some(c) => decode(c)?,
        None => 20,
    };
    let year = u64::from(century) * 100 + u64::from(decode(regs.year)?);

    if hour > 23 || minute > 59 || second > 59 || !(1..=12).contains(&month) || year < 1970 {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + u64::from(hour) * 3600 + u64::from(minute) * 60 + u64::from(second))
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (year ≥ 1970).
///
/// Counts in years that start on March 1, so the leap day is the last day of a year
/// and months have fixed offsets from March.
pub fn days_from_civil(year: u64, month: u8, day: u8) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let year_of_era = y % 400;
    // Months from March: Mar=0 .. Feb=11; (153 * m + 2) / 5 is the day-offset of month m.
    let m = u64::from((month + 9) % 12);
    let day_of_year = (153 * m + 2) / 5 + u64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719_468 days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

fn days_in_month(year: u64, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn from_bcd(v: u8) -> Option<u8> {
    let (hi, lo) = (v >> 4, v & 0xf);
    (hi <= 9 && lo <= 9).then_some(hi * 10 + lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bcd24(y: u8, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> RtcRegisters {
        RtcRegisters {
            seconds: s,
            minutes: mi,
            hours: h,
            day: d,
            month: mo,
            year: y,
            century: None,
            status_b: STATUS_B_24_HOUR,
        }
    }

    #[test]
    fn bcd_24_hour_registers_give_unix_seconds() {
        // 2024-02-29 12:34:56 UTC
        assert_eq!(
            rtc_to_unix(&bcd24(0x24, 0x02, 0x29, 0x12, 0x34, 0x56)),
            Some(1_709_210_096)
        );
        assert_eq!(
            rtc_to_unix(&bcd24(0x00, 0x01, 0x01, 0x00, 0x00, 0x00)),
            Some(946_684_800)
        );
    }

    #[test]
    fn binary_mode_and_century_register_are_honoured() {
        let regs = RtcRegisters {
            seconds: 8,
            minutes: 14,
            hours: 3,
            day: 19,
            month: 1,
            year: 38,
            century: Some(20),
            status_b: STATUS_B_24_HOUR | STATUS_B_BINARY,
        };
        assert_eq!(rtc_to_unix(&regs), Some(2_147_483_648));
        let regs = RtcRegisters {
            year: 99,
            month: 12,
            day: 31,
            hours: 23,
            minutes: 59,
            seconds: 59,
            century: Some(19),
            ..regs
        };
        assert_eq!(rtc_to_unix(&regs), Some(946_684_799));
        let bcd_century = RtcRegisters {
            century: Some(0x21),
            ..bcd24(0x00, 0x03, 0x01, 0, 0, 0)
        };
        assert_eq!(rtc_to_unix(&bcd_century), Some(4_107_542_400));
    }

    #[test]
    fn twelve_hour_mode_maps_midnight_noon_and_pm() {
        let at = |hours| {
            rtc_to_unix(&RtcRegisters {
                status_b: 0,
                ..bcd24(0x00, 0x01, 0x01, hours, 0, 0)
            })
        };
        let midnight = 946_684_800;
        assert_eq!(at(0x12), Some(midnight), "12 AM");
        assert_eq!(at(0x01), Some(midnight + 3600), "1 AM");
        assert_eq!(at(0x80 | 0x12), Some(midnight + 12 * 3600), "12 PM");
        assert_eq!(at(0x80 | 0x11), Some(midnight + 23 * 3600), "11 PM");
        assert_eq!(at(0x00), None, "no hour 0 on a 12-hour clock");
        assert_eq!(at(0x13), None);
    }

    #[test]
    fn out_of_range_or_bad_bcd_registers_are_refused() {
        assert_eq!(
            rtc_to_unix(&bcd24(0x23, 0x02, 0x29, 0, 0, 0)),
            None,
            "2023 is not leap"
        );
        assert_eq!(rtc_to_unix(&bcd24(0x24, 0x13, 0x01, 0, 0, 0)), None);
        assert_eq!(rtc_to_unix(&bcd24(0x24, 0x01, 0x00, 0, 0, 0)), None);
        assert_eq!(rtc_to_unix(&bcd24(0x24, 0x01, 0x01, 0x24, 0, 0)), None);
        assert_eq!(
            rtc_to_unix(&bcd24(0x24, 0x01, 0x01, 0, 0x1a, 0)),
            None,
            "bad BCD digit"
        );
        assert_eq!(rtc_to_unix(&bcd24(0x24, 0x01, 0x01, 0, 0, 0x60)), None);
        let old = RtcRegisters {
            century: Some(0x19),
            ..bcd24(0x69, 0x12, 0x31, 0, 0, 0)
        };
        assert_eq!(rtc_to_unix(&old), None, "before the epoch");
        for v in 0..=255u8 {
            let regs = RtcRegisters {
                seconds: v,
                minutes: v,
                hours: v,
                day: v,
                month: v,
                year: v,
                century: Some(v),
                status_b: v,
            };
            let _ = rtc_to_unix(&regs);
        }
    }

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1970, 3, 1), 59);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2100, 3, 1), 47_541);
        // Consecutive days across many years, leap rules included.
        let mut expected = 0;
        for year in 1970..2400 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(days_from_civil(year, month, day), expected);
                    expected += 1;
                }
            }
        }
    }
}
