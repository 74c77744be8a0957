//! The public service around the mailbox: who operates it, how to reach them, where their
//! notices are, and the time zone every time is shown in (the service's configuration
//! `mailbox.*`).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::i18n::{Lang, month};

/// What a citizen is told about the service on every page.
#[derive(Clone, Debug)]
pub struct Site {
    /// The operator's name (`mailbox.operator_name`).
    pub operator: String,
    /// How to reach the operator's help desk (`mailbox.contact`): an e-mail address, a phone
    /// number, as the operator writes it.
    pub contact: String,
    /// The operator's privacy statement (`mailbox.privacy_url`: https or a path of this site).
    pub privacy_url: String,
    /// The operator's legal notice (`mailbox.legal_url`).
    pub legal_url: String,
    /// The legal notice's text shown on the help page (`mailbox.legal_notice`).
    pub legal_notice: String,
    /// Every time is shown in it (`mailbox.time_zone`).
    pub time_zone: TimeZone,
}

impl Site {
    /// The IANA time zone `name`, from the system's time zone database.
    pub fn time_zone(name: &str) -> Result<TimeZone, String> {
        TimeZone::get(name).map_err(|e| {
            format!("{name:?} is not a time zone of the system's database (an IANA name such as Europe/Brussels; is tzdata installed?): {e}")
        })
    }

    /// Whether `url` may be a notice's address: https, or a path of this site (never
    /// `javascript:` or the like).
    pub fn link_ok(url: &str) -> bool {
        (url.starts_with("https://") && url.len() > 8)
            || (url.starts_with('/') && !url.starts_with("//"))
    }

    /// The time zone's name, as the footer says it.
    pub(super) fn zone_name(&self) -> &str {
        self.time_zone.iana_name().unwrap_or("UTC")
    }

    /// `unix` as a date and time in the site's time zone, in words: "1 December 2026 at 14:03".
    pub(super) fn when(&self, unix: u64, lang: Lang) -> String {
        let Some(z) = i64::try_from(unix)
            .ok()
            .and_then(|s| Timestamp::from_second(s).ok())
            .map(|t| t.to_zoned_datetime(self.time_zone.clone()))
        else {
            return unix.to_string();
        };
        let (h, m) = (z.hour(), z.minute());
        match lang {
            Lang::Fr => format!("{} à {h:02}:{m:02}", self.day_fr(z.date())),
            Lang::Nl => format!(
                "{} {} {} om {h:02}:{m:02}",
                z.day(),
                month(lang, z.month()),
                z.year()
            ),
            Lang::En => format!(
                "{} {} {} at {h:02}:{m:02}",
                z.day(),
                month(lang, z.month()),
                z.year()
            ),
        }
    }

    /// The date (no time) of `unix` in the site's time zone, in words.
    pub(super) fn day(&self, unix: u64, lang: Lang) -> String {
        let Some(d) = i64::try_from(unix)
            .ok()
            .and_then(|s| Timestamp::from_second(s).ok())
            .map(|t| t.to_zoned_datetime(self.time_zone.clone()).date())
        else {
            return unix.to_string();
        };
        match lang {
            Lang::Fr => self.day_fr(d),
            _ => format!("{} {} {}", d.day(), month(lang, d.month()), d.year()),
        }
    }

    fn day_fr(&self, d: Date) -> String {
        let day = if d.day() == 1 {
            "1er".to_owned()
        } else {
            d.day().to_string()
        };
        format!("{day} {} {}", month(Lang::Fr, d.month()), d.year())
    }

    /// The last second (Unix) of the day `text` (`YYYY-MM-DD`) in the site's time zone: a
    /// mandate "valid until" a day is valid all that day where the person lives.
    pub(super) fn end_of_day(&self, text: &str) -> Option<u64> {
        let date: Date = text.trim().parse().ok()?;
        let next = date
            .tomorrow()
            .ok()?
            .to_zoned_datetime(self.time_zone.clone())
            .ok()?;
        u64::try_from(next.timestamp().as_second() - 1).ok()
    }
}

#[cfg(test)]
pub(super) fn brussels() -> Site {
    Site {
        operator: "Sealpost (development)".into(),
        contact: "help@sealpost.example".into(),
        privacy_url: "/mailbox/help#privacy".into(),
        legal_url: "/mailbox/help#legal".into(),
        legal_notice: "A development service.".into(),
        time_zone: Site::time_zone("Europe/Brussels").expect("tzdata"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_local_summer_and_winter_in_three_languages() {
        let site = brussels();
        // 2026-12-01 13:03 UTC is 14:03 in Brussels (CET, UTC+1).
        let winter = 1_796_130_180;
        assert_eq!(site.when(winter, Lang::En), "1 December 2026 at 14:03");
        assert_eq!(site.when(winter, Lang::Fr), "1er décembre 2026 à 14:03");
        assert_eq!(site.when(winter, Lang::Nl), "1 december 2026 om 14:03");
        // 2026-07-15 12:00 UTC is 14:00 in Brussels (CEST, UTC+2).
        assert_eq!(site.when(1_784_116_800, Lang::En), "15 July 2026 at 14:00");
        assert_eq!(site.day(1_784_116_800, Lang::Nl), "15 juli 2026");
        // Midnight in Brussels is still the day before in UTC.
        assert_eq!(site.day(1_796_166_000, Lang::En), "2 December 2026");
        assert_eq!(site.zone_name(), "Europe/Brussels");
    }

    #[test]
    fn a_day_ends_at_local_midnight_and_unknown_zones_are_refused() {
        let site = brussels();
        // 2026-12-01 ends at 2026-12-01 23:59:59 CET = 22:59:59 UTC.
        assert_eq!(site.end_of_day("2026-12-01"), Some(1_796_165_999));
        assert_eq!(site.end_of_day("2026-13-01"), None);
        assert_eq!(site.end_of_day("soon"), None);
        assert!(Site::time_zone("Europe/Atlantis").is_err());
        assert!(Site::time_zone("America/New_York").is_ok());
    }

    #[test]
    fn notices_link_to_https_or_this_site_only() {
        assert!(Site::link_ok("https://operator.example/privacy"));
        assert!(Site::link_ok("/mailbox/help#legal"));
        assert!(!Site::link_ok("javascript:alert(1)"));
        assert!(!Site::link_ok("//evil.example/"));
        assert!(!Site::link_ok("http://operator.example/"));
        assert!(!Site::link_ok("https://"));
    }
}
