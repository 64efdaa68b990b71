//! What plotters' SVG backend cannot write: the scalable root element, dashed lines,
//! and `<title>` tooltips. Plain string building, applied to plotters' output.

use std::fmt::Write as _;

/// XML-escapes `text` onto `out` (for text content and attribute values alike).
pub(super) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// What the root element says about itself beyond its size.
pub(super) enum Role<'a> {
    /// An image with a name for screen readers (the chart's title).
    Img(&'a str),
    /// Decoration next to numbers the page shows anyway.
    Decorative,
}

/// The root `<svg ...>` tag: drawn in a `W x H` coordinate system (`viewBox`) but as wide
/// as its container, the height following from the aspect ratio.
pub(super) fn root_tag(width: u32, height: u32, role: Role<'_>) -> String {
    let mut tag = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet""#
    );
    match role {
        Role::Img(label) => {
            tag.push_str(r#" role="img" aria-label=""#);
            escape_into(&mut tag, label);
            tag.push('"');
        }
        Role::Decorative => tag.push_str(r#" aria-hidden="true" focusable="false""#),
    }
    tag.push('>');
    tag
}

/// Plotters' document with its root tag (fixed pixel `width`/`height`) replaced by
/// `root`, and `overlay` inserted just before the closing `</svg>` so it is drawn on top.
/// `None` if the document is not the one plotters writes.
pub(super) fn finish(doc: &str, root: &str, overlay: &str) -> Option<String> {
    let start = doc.find("<svg")?;
    let open_end = start + doc[start..].find('>')? + 1;
    let close = doc.rfind("</svg>")?;
    if close < open_end {
        return None;
    }
    let mut out = String::with_capacity(doc.len() + overlay.len() + root.len());
    out.push_str(root);
    out.push_str(&doc[open_end..close]);
    out.push_str(overlay);
    out.push_str("</svg>\n");
    Some(out)
}

/// The chart that shows when drawing failed: the frame of the page's layout and a message.
pub(super) fn fallback(width: u32, height: u32, label: &str, message: &str, text_color: &str, font: &str) -> String {
    let mut out = root_tag(width, height, Role::Img(label));
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" dominant-baseline="middle" font-family="{font}" font-size="12" fill="{text_color}">"#,
        width / 2,
        height / 2,
    );
    escape_into(&mut out, message);
    out.push_str("</text></svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_root_and_appends_the_overlay() {
        let doc = "<svg width=\"300\" height=\"200\" viewBox=\"0 0 300 200\" xmlns=\"http://www.w3.org/2000/svg\">\n<line/>\n</svg>\n";
        let root = root_tag(300, 200, Role::Img("p90 <latency> & \"cost\""));
        let out = finish(doc, &root, "<g id=\"o\"/>").expect("plotters' document");
        assert!(out.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 300 200\" width=\"100%\""));
        assert!(
            out.contains(r#"role="img" aria-label="p90 &lt;latency&gt; &amp; &quot;cost&quot;""#),
            "{out}"
        );
        assert!(!out.contains("height=\"200\""), "{out}");
        assert_eq!(out.matches("<svg").count(), 1);
        assert!(out.ends_with("<line/>\n<g id=\"o\"/></svg>\n"), "{out}");
        assert_eq!(finish("no svg here", &root, ""), None);
    }

    #[test]
    fn the_fallback_is_a_labelled_svg_with_the_message() {
        let out = fallback(300, 200, "Errors", "No data <yet>", "#777", "system-ui");
        assert!(out.starts_with("<svg "));
        assert!(out.contains("viewBox=\"0 0 300 200\""));
        assert!(out.contains("aria-label=\"Errors\""));
        assert!(out.contains("No data &lt;yet&gt;</text>"));
        assert!(out.ends_with("</svg>\n"));
    }
}
