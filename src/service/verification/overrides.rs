//! Mail templates from a directory (`email.templates_dir`), replacing the built-in text and HTML
//! of a link mail per purpose: `password_reset`, `email_verification`, `magic_link`,
//! `email_change`, each as `<purpose>.txt` and/or `<purpose>.html`. A file's first line may be
//! `Subject: …`, which replaces the subject too. Placeholders: `{{product}}`, `{{link}}`,
//! `{{code}}`, `{{expires}}` ("15 minutes"); in HTML every value is HTML-escaped. A missing
//! file keeps the built-in; an unreadable file, an unknown placeholder or an unclosed `{{` stops
//! the start naming the file, so a typo never reaches a recipient.

use std::path::Path;

use super::{Purpose, templates::escape};

/// Largest template file read.
const MAX_TEMPLATE_BYTES: u64 = 256 * 1024;

/// The values a template may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Product,
    Link,
    Code,
    Expires,
}

impl Field {
    fn parse(name: &str) -> Option<Self> {
        match name.trim() {
            "product" => Some(Self::Product),
            "link" => Some(Self::Link),
            "code" => Some(Self::Code),
            "expires" => Some(Self::Expires),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Value(Field),
}

/// One parsed template file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    subject: Option<Vec<Segment>>,
    body: Vec<Segment>,
}

/// What the placeholders stand for in one mail.
#[derive(Debug, Clone, Copy)]
pub(super) struct Values<'a> {
    pub product: &'a str,
    pub link: &'a str,
    pub code: &'a str,
    pub expires: &'a str,
}

impl Values<'_> {
    fn get(&self, field: Field) -> &str {
        match field {
            Field::Product => self.product,
            Field::Link => self.link,
            Field::Code => self.code,
            Field::Expires => self.expires,
        }
    }
}

fn parse_segments(text: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        segments.push(Segment::Text(rest[..open].to_owned()));
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or("has a `{{` without its `}}`")?;
        let name = &after[..close];
        let field = Field::parse(name).ok_or_else(|| {
            format!("names `{{{{{name}}}}}`, which is not one of {{{{product}}}}, {{{{link}}}}, {{{{code}}}}, {{{{expires}}}}")
        })?;
        segments.push(Segment::Value(field));
        rest = &after[close + 2..];
    }
    segments.push(Segment::Text(rest.to_owned()));
    Ok(segments)
}

fn render(segments: &[Segment], values: &Values<'_>, html: bool) -> String {
    segments
        .iter()
        .map(|segment| match segment {
            Segment::Text(text) => text.clone(),
            Segment::Value(field) if html => escape(values.get(*field)),
            Segment::Value(field) => values.get(*field).to_owned(),
        })
        .collect()
}

impl Template {
    /// A template's text: an optional `Subject: …` first line, then the body.
    fn parse(text: &str) -> Result<Self, String> {
        let (subject, body) = match text.strip_prefix("Subject:") {
            Some(rest) => {
                let (line, body) = rest.split_once('\n').unwrap_or((rest, ""));
                (Some(parse_segments(line.trim())?), body)
            }
            None => (None, text),
        };
        Ok(Self { subject, body: parse_segments(body)? })
    }

    /// The subject this template sets, if any. Values are never escaped in a subject.
    pub(super) fn subject(&self, values: &Values<'_>) -> Option<String> {
        self.subject.as_ref().map(|segments| render(segments, values, false).replace(['\r', '\n'], " "))
    }

    /// The body, with values HTML-escaped when `html`.
    pub(super) fn body(&self, values: &Values<'_>, html: bool) -> String {
        render(&self.body, values, html)
    }
}

/// The overrides of one purpose's mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurposeTemplates {
    pub(super) text: Option<Template>,
    pub(super) html: Option<Template>,
}

/// Every override found in `email.templates_dir` (empty: the built-ins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailTemplates {
    password_reset: PurposeTemplates,
    email_verification: PurposeTemplates,
    magic_link: PurposeTemplates,
    email_change: PurposeTemplates,
}

impl MailTemplates {
    /// Reads the templates in `dir`; the error names the file and what is wrong with it.
    pub fn load(dir: &Path) -> Result<Self, String> {
        if !dir.is_dir() {
            return Err(format!("email.templates_dir {} is not a directory", dir.display()));
        }
        let read = |purpose: Purpose, extension: &str| -> Result<Option<Template>, String> {
            let path = dir.join(format!("{}.{extension}", purpose.name()));
            let Ok(metadata) = std::fs::metadata(&path) else { return Ok(None) };
            let name = path.display();
            if metadata.len() > MAX_TEMPLATE_BYTES {
                return Err(format!("mail template {name} is larger than {MAX_TEMPLATE_BYTES} bytes"));
            }
            let text = std::fs::read_to_string(&path).map_err(|err| format!("mail template {name}: {err}"))?;
            Template::parse(&text).map(Some).map_err(|why| format!("mail template {name} {why}"))
        };
        let both = |purpose: Purpose| -> Result<PurposeTemplates, String> {
            Ok(PurposeTemplates { text: read(purpose, "txt")?, html: read(purpose, "html")? })
        };
        Ok(Self {
            password_reset: both(Purpose::PasswordReset)?,
            email_verification: both(Purpose::EmailVerification)?,
            magic_link: both(Purpose::MagicLink)?,
            email_change: both(Purpose::EmailChange)?,
        })
    }

    pub(super) fn for_purpose(&self, purpose: Purpose) -> &PurposeTemplates {
        match purpose {
            Purpose::PasswordReset => &self.password_reset,
            Purpose::EmailVerification => &self.email_verification,
            Purpose::MagicLink => &self.magic_link,
            Purpose::EmailChange => &self.email_change,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: Values<'static> =
        Values { product: "<Acme & Co>", link: "https://x/?a=1&b=2", code: "012345", expires: "15 minutes" };

    #[test]
    fn placeholders_are_filled_and_escaped_in_html_only() {
        let template =
            Template::parse("Subject: Reset for {{product}}\n<a href=\"{{link}}\">{{ code }}</a> {{expires}}").unwrap();
        assert_eq!(template.subject(&VALUES).as_deref(), Some("Reset for <Acme & Co>"));
        assert_eq!(template.body(&VALUES, true), "<a href=\"https://x/?a=1&amp;b=2\">012345</a> 15 minutes");
        assert_eq!(template.body(&VALUES, false), "<a href=\"https://x/?a=1&b=2\">012345</a> 15 minutes");
        let plain = Template::parse("no placeholders, no subject").unwrap();
        assert_eq!(plain.subject(&VALUES), None);
    }

    #[test]
    fn unknown_or_unclosed_placeholders_are_refused() {
        assert!(Template::parse("{{link}").unwrap_err().contains("without its"));
        let unknown = Template::parse("hello {{name}}").unwrap_err();
        assert!(unknown.contains("{{name}}"), "{unknown}");
        assert!(Template::parse("Subject: {{oops}}\nbody").is_err());
    }
}
