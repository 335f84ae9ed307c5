use super::*;
use serde_json::json;
use testkit::{FakeVideoApi, Reply};

const KEY: &str = "sk-test-9f8e7d6c5b4a";

// ---- against a fake server -------------------------------------------

/// A video API answering every create and every query with `status` and
/// `body`, labelled JSON whatever it is (as gateways do); it records the
/// requests and serves while the returned fake lives.
async fn fake(status: u16, body: impl Into<String>) -> (String, FakeVideoApi) {
    let api = FakeVideoApi::start().await;
    api.answer_all(Reply::status(status, &body.into()).labelled("application/json"));
    (api.url(), api)
}

fn api(base: &str) -> VideoApi {
    VideoApi::new(base, SecretString::from(KEY))
}

fn sample_images() -> Vec<String> {
    vec!["https://img.example/a.jpg".to_owned(), "data:image/png;base64,iVBOR".to_owned()]
}

async fn create_with(api: &VideoApi) -> Result<Created, ApiError> {
    let images = sample_images();
    api.create(&CreateRequest::new(&images, "a red fox in snow", &VideoOptions::STANDARD, Family::Sora)).await
}

mod bodies;
mod client;
mod errors;
mod status;
