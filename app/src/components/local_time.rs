//! A moment in the viewer's zone, with the zone named on hover. The server cannot know the
//! zone: it renders UTC (and says so), and the browser switches to local time once hydrated.

use leptos::prelude::*;

use crate::time_fmt::{format_at_offset, iso_utc};

/// `ms` (unix milliseconds) as a `<time>`: "2026-11-28 14:03:12 UTC" from the server, then
/// "2026-11-28 15:03:12" titled "Europe/Paris (UTC+01:00)" in the browser.
#[component]
pub fn LocalTime(ms: i64) -> impl IntoView {
    let shown = RwSignal::new((format!("{} UTC", format_at_offset(ms, 0)), "UTC".to_string()));
    // After hydration (an Effect), so the server's render and the browser's first one agree.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(local) = viewer_zone(ms) {
            shown.set(local);
        }
    });
    view! {
        <time datetime=iso_utc(ms) title=move || shown.with(|s| s.1.clone())>{move || shown.with(|s| s.0.clone())}</time>
    }
}

/// The time at `ms` in the browser's zone, and the zone's name with its offset then.
#[cfg(feature = "hydrate")]
fn viewer_zone(ms: i64) -> Option<(String, String)> {
    use crate::time_fmt::offset_name;
    let date = js_sys::Date::new(&js_sys::Number::from(ms as f64).into());
    // Minutes behind UTC (UTC+1 is -60), at that date: summer time is taken into account.
    let behind = date.get_timezone_offset();
    if !behind.is_finite() {
        return None;
    }
    let east = -(behind.round() as i32);
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new()).resolved_options();
    let zone = js_sys::Reflect::get(&options, &js_sys::JsString::from("timeZone"))
        .ok()
        .and_then(|v| v.as_string());
    let offset = offset_name(east);
    let title = match zone {
        // "Europe/Paris (UTC+01:00)"; "UTC" or "Etc/UTC" alone says enough.
        Some(zone) if !zone.ends_with("UTC") => format!("{zone} ({offset})"),
        _ => offset,
    };
    Some((format_at_offset(ms, east), title))
}
