//! Renderings of a [`Timeline`](crate::timeline::Timeline): JSON (docs/timeline-json.md),
//! Markdown (the post-mortem's table) and HTML (the daemon's page). All deterministic.

pub mod html;
pub mod json;
pub mod markdown;
pub mod rows;

/// The output formats `draft --format` and the HTTP API offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Markdown,
    Html,
}

/// A format name `draft --format` and `?format=` do not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}: expected md, json or html")]
pub struct UnknownFormat(pub String);

impl std::str::FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "json" => Ok(Format::Json),
            "md" | "markdown" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            other => Err(UnknownFormat(other.to_owned())),
        }
    }
}

impl Format {
    /// The `Content-Type` the daemon serves this format with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }

    /// The format an `Accept` media type asks for, if any (`*/*` takes JSON).
    pub fn of_media_type(media_type: &str) -> Option<Format> {
        match media_type {
            "text/html" => Some(Format::Html),
            "text/markdown" | "text/x-markdown" => Some(Format::Markdown),
            "application/json" | "*/*" | "application/*" => Some(Format::Json),
            _ => None,
        }
    }
}

/// The timeline in `format`.
pub fn render(timeline: &crate::timeline::Timeline, format: Format) -> String {
    match format {
        Format::Json => json::render(timeline),
        Format::Markdown => markdown::render(timeline),
        Format::Html => html::render(timeline),
    }
}
