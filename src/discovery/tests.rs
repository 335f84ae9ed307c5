use std::sync::Mutex;

use testkit::{FakeVideoApi, Reply, VIDEO_API_KEY};

use super::*;
use crate::models::listing::Availability;

fn listed(models: &[&str]) -> Result<Vec<String>, ApiError> {
    Ok(models.iter().map(|&model| model.to_owned()).collect())
}

fn not_found() -> Result<Vec<String>, ApiError> {
    Err(ApiError::Upstream { status: 404, message: None })
}

fn names(models: &[&str]) -> Vec<String> {
    models.iter().map(|&model| model.to_owned()).collect()
}

// ---- Listing ----------------------------------------------------------

#[test]
fn before_any_listing_works_every_model_is_unknown() {
    let listing = Listing::new();
    assert_eq!(listing.availability("sora-2"), Availability::Unknown);
    assert!(!listing.has_listing());

    let change = listing.apply(Instant::now(), not_found());
    assert_eq!(change, Change { started_failing: true, ..Change::default() });
    assert!(!change.changed());
    assert_eq!(listing.availability("sora-2"), Availability::Unknown);
    assert!(!listing.has_listing() && listing.listed().is_empty());
}

#[test]
fn the_first_listing_makes_every_model_listed_or_unlisted() {
    let listing = Listing::new();
    let change = listing.apply(Instant::now(), listed(&["veo3.1-fast", "grok-video-3"]));
    assert!(change.first_success && change.changed() && !change.recovered);
    assert_eq!(change.added, names(&["veo3.1-fast", "grok-video-3"]));
    assert!(listing.has_listing());
    assert_eq!(listing.availability("veo3.1-fast"), Availability::Listed);
    assert_eq!(listing.availability("sora-2"), Availability::Unlisted);
    // Names match exactly, as the create body must carry them.
    assert_eq!(listing.availability("VEO3.1-fast"), Availability::Unlisted);
    assert_eq!(listing.listed(), names(&["veo3.1-fast", "grok-video-3"]));
}

#[test]
fn an_empty_listing_is_still_a_listing() {
    let listing = Listing::new();
    assert!(listing.apply(Instant::now(), listed(&[])).changed());
    assert_eq!(listing.availability("sora-2"), Availability::Unlisted);
}

#[test]
fn a_failed_listing_keeps_the_last_good_one_and_is_reported_once() {
    let listing = Listing::new();
    listing.apply(Instant::now(), listed(&["sora-2", "veo3.1"]));

    let first = listing.apply(Instant::now(), not_found());
    assert!(first.started_failing && !first.changed());
    let second = listing.apply(Instant::now(), Err(ApiError::Timeout { request_sent: true }));
    assert_eq!(second, Change::default(), "the second failure in a row is nothing new");
    assert_eq!(listing.availability("sora-2"), Availability::Listed);
    assert_eq!(listing.availability("grok-video-3"), Availability::Unlisted);

    let back = listing.apply(Instant::now(), listed(&["sora-2", "veo3.1"]));
    assert!(back.recovered && !back.first_success && !back.changed());
    assert!(listing.apply(Instant::now(), not_found()).started_failing, "a new run of failures");
}

#[test]
fn a_changed_listing_names_what_came_and_went() {
    let listing = Listing::new();
    listing.apply(Instant::now(), listed(&["sora-2", "sora-2-pro", "veo3.1"]));
    let change = listing.apply(Instant::now(), listed(&["veo3.1", "veo3.1-fast", "sora-2-pro"]));
    assert_eq!(change.added, names(&["veo3.1-fast"]));
    assert_eq!(change.removed, names(&["sora-2"]));
    assert!(change.changed() && !change.first_success);

    let same = listing.apply(Instant::now(), listed(&["sora-2-pro", "veo3.1", "veo3.1-fast"]));
    assert!(!same.changed(), "the order alone is no change: {same:?}");
}

#[test]
fn a_refused_model_is_unlisted_until_a_later_listing_names_it() {
    let listing = Listing::new();
    listing.apply(Instant::now(), listed(&["sora-2", "veo3.1"]));

    assert!(listing.mark_retired("sora-2"));
    assert!(!listing.mark_retired("sora-2"), "already unavailable");
    assert_eq!(listing.availability("sora-2"), Availability::Unlisted);
    assert_eq!(listing.listed(), names(&["veo3.1"]));

    // A failed listing says nothing new.
    listing.apply(Instant::now(), not_found());
    assert_eq!(listing.availability("sora-2"), Availability::Unlisted);
    // A listing without it: it stays away, and that is no change.
    let change = listing.apply(Instant::now(), listed(&["veo3.1"]));
    assert!(!change.changed(), "{change:?}");
    assert_eq!(listing.availability("sora-2"), Availability::Unlisted);
    // Listed again: back on offer.
    let change = listing.apply(Instant::now(), listed(&["sora-2", "veo3.1"]));
    assert_eq!(change.added, names(&["sora-2"]));
    assert_eq!(listing.availability("sora-2"), Availability::Listed);
}

#[test]
fn a_listing_asked_for_before_the_refusal_does_not_clear_it() {
    let listing = Listing::new();
    listing.apply(Instant::now(), listed(&["sora-2"]));
    let asked_at = Instant::now();
    listing.mark_retired("sora-2");
    let change = listing.apply(asked_at, listed(&["sora-2"]));
    assert!(!change.changed(), "{change:?}");
    assert_eq!(listing.availability("sora-2"), Availability::Unlisted);
}

#[test]
fn a_refusal_before_any_listing_marks_the_model_only() {
    let listing = Listing::new();
    assert!(listing.mark_retired("sora-2"));
    assert_eq!(listing.availability("sora-2"), Availability::Unlisted);
    assert_eq!(listing.availability("veo3.1"), Availability::Unknown);
    assert!(!listing.has_listing());
}

#[test]
fn a_refused_listed_model_is_removed_by_the_mark_not_by_the_next_listing() {
    let listing = Listing::new();
    listing.apply(Instant::now(), listed(&["sora-2", "veo3.1"]));
    listing.mark_retired("sora-2");
    let change = listing.apply(Instant::now(), listed(&["veo3.1"]));
    assert!(change.removed.is_empty(), "{change:?}");
}

// ---- logging and the loop -------------------------------------------

/// Everything logged at info and above while `f` runs on this thread.
fn logs_of(f: impl FnOnce()) -> String {
    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || Sink(sink.clone()))
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buffer.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn failures_are_logged_once_per_run_and_so_is_the_recovery() {
    let listing = Listing::new();
    let key_error = ApiError::Unauthorized { message: Some("invalid token".into()) };
    let logs = logs_of(|| {
        for _ in 0..3 {
            refresh(&listing, Instant::now(), Err(key_error.clone()));
        }
        refresh(&listing, Instant::now(), listed(&["sora-2"]));
        refresh(&listing, Instant::now(), listed(&["sora-2"]));
        refresh(&listing, Instant::now(), not_found());
        refresh(&listing, Instant::now(), not_found());
    });
    let warnings: Vec<&str> = logs.lines().filter(|line| line.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "{logs}");
    assert!(warnings[0].contains("unauthorized") && warnings[0].contains("invalid token"), "{logs}");
    assert!(warnings[1].contains("HTTP 404"), "{logs}");
    assert_eq!(logs.matches("works again").count(), 1, "{logs}");
    assert_eq!(logs.matches("listed its models").count(), 1, "{logs}");
}

#[tokio::test]
async fn run_asks_at_once_then_every_period_and_stops_on_shutdown() {
    let fake = FakeVideoApi::start().await;
    fake.set_models(&["veo3.1-fast"]);
    fake.push_models(Reply::status(404, "404 page not found"));
    let api = VideoApi::new(&fake.url(), VIDEO_API_KEY.to_owned().into());
    let listing = Arc::new(Listing::new());
    let shutdown = CancellationToken::new();
    let changes = Arc::new(Mutex::new(Vec::new()));
    let seen = changes.clone();
    let task = tokio::spawn(run(
        api,
        listing.clone(),
        Duration::from_millis(100),
        shutdown.clone(),
        move |listing, change| {
            seen.lock().unwrap().push((listing.listed(), change.clone()));
        },
    ));

    // The first answer is a 404: nothing known yet, nothing changed.
    let first = fake.wait_model_listings(1, Duration::from_secs(5)).await;
    assert_eq!(first[0].headers["authorization"], format!("Bearer {VIDEO_API_KEY}"));
    let calls = fake.wait_model_listings(3, Duration::from_secs(5)).await;
    assert!(calls[2].at - calls[0].at >= Duration::from_millis(150), "asked every period, not in a burst");
    assert_eq!(listing.availability("veo3.1-fast"), Availability::Listed);
    assert_eq!(listing.availability("sora-2"), Availability::Unlisted);
    {
        let changes = changes.lock().unwrap();
        assert_eq!(changes.len(), 1, "only the first success changed anything: {changes:?}");
        assert_eq!(changes[0].0, names(&["veo3.1-fast"]));
        assert!(changes[0].1.first_success && changes[0].1.recovered);
    }

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("run stops on shutdown").unwrap();
}
