//! Recipient identifiers: `nrn:` and the 11 digits of a national register number, `cbe:` and
//! the 10 digits of an enterprise number, both with their mod-97 check digits.

use std::fmt;

/// Whose mailbox a recipient identifier names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipientKind {
    /// A person, by national register number.
    Citizen,
    /// A company, by enterprise number (read by its mandataries).
    Company,
}

impl RecipientKind {
    pub fn name(self) -> &'static str {
        match self {
            RecipientKind::Citizen => "citizen",
            RecipientKind::Company => "company",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "citizen" => Some(RecipientKind::Citizen),
            "company" => Some(RecipientKind::Company),
            _ => None,
        }
    }
}

/// A validated recipient identifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecipientId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("a recipient is nrn: and 11 digits or cbe: and 10 digits")]
    Shape,
    #[error("the check digits of {0} are wrong")]
    CheckDigits(String),
}

impl RecipientId {
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let (kind, digits) = match text.split_once(':') {
            Some(("nrn", d)) if d.len() == 11 => (RecipientKind::Citizen, d),
            Some(("cbe", d)) if d.len() == 10 => (RecipientKind::Company, d),
            _ => return Err(IdError::Shape),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::Shape);
        }
        let split = digits.len() - 2;
        let (base, check) = (&digits[..split], &digits[split..]);
        let (Ok(base), Ok(check)) = (base.parse::<u64>(), check.parse::<u64>()) else {
            return Err(IdError::Shape);
        };
        let valid = match kind {
            // Born before 2000: 97 - (first nine digits mod 97); from 2000 on, a 2 is put in
            // front of the nine digits first.
            RecipientKind::Citizen => {
                check == 97 - base % 97 || check == 97 - (2_000_000_000 + base) % 97
            }
            RecipientKind::Company => digits.starts_with(['0', '1']) && check == 97 - base % 97,
        };
        if !valid {
            return Err(IdError::CheckDigits(text.to_owned()));
        }
        Ok(RecipientId(text.to_owned()))
    }

    pub fn kind(&self) -> RecipientKind {
        if self.0.starts_with("nrn:") {
            RecipientKind::Citizen
        } else {
            RecipientKind::Company
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecipientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_and_enterprise_numbers_are_checked() {
        for valid in [
            "nrn:85073003328",
            "nrn:00012556777",
            "cbe:0203201340",
            "cbe:0417497106",
        ] {
            assert!(RecipientId::parse(valid).is_ok(), "{valid}");
        }
        assert_eq!(
            RecipientId::parse("nrn:85073003328").map(|r| r.kind()),
            Ok(RecipientKind::Citizen)
        );
        for (text, err) in [
            (
                "nrn:85073003329",
                IdError::CheckDigits("nrn:85073003329".into()),
            ),
            (
                "cbe:0203201341",
                IdError::CheckDigits("cbe:0203201341".into()),
            ),
            (
                "cbe:2203201340",
                IdError::CheckDigits("cbe:2203201340".into()),
            ),
            ("nrn:8507300332", IdError::Shape),
            ("nrn:8507300332x", IdError::Shape),
            ("rrn:85073003328", IdError::Shape),
            ("85073003328", IdError::Shape),
            ("nrn:+5073003328", IdError::Shape),
        ] {
            assert_eq!(RecipientId::parse(text), Err(err), "{text}");
        }
    }
}
