//! A fake yunwu.ai video API: records create, query and model listing calls,
//! answers from scripts, refuses retired models, and serves finished videos.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::server::{Server, header_map, poll_until};

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// How long to wait before answering.
    pub delay: Duration,
    /// Content-Type; by default JSON if the body parses as JSON, else text.
    pub content_type: Option<&'static str>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply { status, body: body.to_string(), delay: Duration::ZERO, content_type: None }
    }

    /// A non-JSON answer, e.g. `Reply::status(502, "Bad Gateway")`.
    pub fn status(status: u16, body: &str) -> Reply {
        Reply { status, body: body.into(), delay: Duration::ZERO, content_type: None }
    }

    /// 200 `{"id": id, "status": status}`.
    pub fn task(id: &str, status: &str) -> Reply {
        Reply::json(200, json!({"id": id, "status": status}))
    }

    pub fn completed(id: &str, video_url: &str) -> Reply {
        Reply::json(200, json!({"id": id, "status": "completed", "video_url": video_url}))
    }

    pub fn failed(id: &str, reason: &str) -> Reply {
        Reply::json(200, json!({"id": id, "status": "failed", "error": {"message": reason}}))
    }

    /// What a new-api relay answers a create naming a model it has no
    /// channel for (OpenAI retired sora-2 this way).
    pub fn model_retired(model: &str) -> Reply {
        let message = format!("当前分组 default 下对于模型 {model} 无可用渠道");
        Reply::json(503, json!({"error": {"code": "model_not_found", "message": message, "type": "new_api_error"}}))
    }

    /// 200 with a OneAPI model listing of `ids`.
    pub fn models(ids: &[&str]) -> Reply {
        let data: Vec<Value> =
            ids.iter().map(|id| json!({"id": id, "object": "model", "owned_by": "custom"})).collect();
        Reply::json(200, json!({"object": "list", "data": data}))
    }

    /// A request that is never answered (for client timeouts).
    pub fn never() -> Reply {
        Reply::status(504, "never").after(Duration::from_secs(3600))
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Sent with this Content-Type whatever the body is (gateways label error pages as JSON, too).
    pub fn labelled(mut self, content_type: &'static str) -> Reply {
        self.content_type = Some(content_type);
        self
    }

    fn response(&self) -> Response {
        let content_type = match (self.content_type, serde_json::from_str::<Value>(&self.body)) {
            (Some(content_type), _) => content_type,
            (None, Ok(_)) => "application/json",
            (None, Err(_)) => "text/plain",
        };
        let status = StatusCode::from_u16(self.status).expect("valid HTTP status");
        (status, [(header::CONTENT_TYPE, content_type)], self.body.clone()).into_response()
    }
}

#[derive(Clone, Debug)]
pub struct CreateCall {
    /// Lowercased header names.
    pub headers: HashMap<String, String>,
    /// The JSON body (a JSON string holding the raw text if it was not JSON).
    pub body: Value,
    /// When the request arrived.
    pub at: Instant,
    /// When the answer went out; `None` while it is delayed or if the client gave up.
    pub answered_at: Option<Instant>,
}

/// One `GET /v1/models`.
#[derive(Clone, Debug)]
pub struct ModelsCall {
    /// Lowercased header names.
    pub headers: HashMap<String, String>,
    pub at: Instant,
}

#[derive(Clone, Debug)]
pub struct QueryCall {
    pub id: String,
    /// The query string as sent, still percent-encoded.
    pub raw_query: Option<String>,
    pub headers: HashMap<String, String>,
    pub at: Instant,
}

/// Cheap to clone; all clones share one server and one record.
#[derive(Clone)]
pub struct FakeVideoApi {
    state: Arc<Mutex<Record>>,
    server: Arc<Server>,
}

/// The models the fake lists unless told otherwise: every model of the bot's
/// built-in catalog, so a bot that asks finds them all on offer.
pub const LISTED_MODELS: &[&str] = &[
    "sora-2",
    "sora-2-pro",
    "veo3.1-fast",
    "veo3.1",
    "veo3.1-pro",
    "veo3.1-components",
    "jimeng-video-3.0",
    "grok-video-3",
];

struct Record {
    creates: Vec<CreateCall>,
    /// Creates answered with a task (not refused as retired): numbers the
    /// default task ids.
    tasks_made: usize,
    create_script: VecDeque<Reply>,
    /// Models whose creates are refused as a relay refuses a retired model.
    retired: HashSet<String>,
    /// What `/v1/models` lists by default.
    models: Vec<String>,
    models_script: VecDeque<Reply>,
    /// Set by `answer_models`: the answer to every unscripted listing.
    models_answer: Option<Reply>,
    model_listings: Vec<ModelsCall>,
    queries: Vec<QueryCall>,
    task_scripts: HashMap<String, VecDeque<Reply>>,
    /// Set by `answer_all`: the answer to every create and every unscripted query.
    every_answer: Option<Reply>,
    files: HashMap<String, Served>,
    /// Requests of `/files/...`, served or not.
    file_requests: usize,
}

impl Default for Record {
    fn default() -> Self {
        Record {
            creates: Vec::new(),
            tasks_made: 0,
            create_script: VecDeque::new(),
            retired: HashSet::new(),
            models: LISTED_MODELS.iter().map(|&id| id.to_owned()).collect(),
            models_script: VecDeque::new(),
            models_answer: None,
            model_listings: Vec::new(),
            queries: Vec::new(),
            task_scripts: HashMap::new(),
            every_answer: None,
            files: HashMap::new(),
            file_requests: 0,
        }
    }
}

/// What `/files/{name}` answers.
enum Served {
    Bytes(Vec<u8>),
    /// As `text/html`, like an error page.
    Page(Vec<u8>),
    /// Without Content-Length, in 1000-byte chunks.
    Chunked(Vec<u8>),
    /// A 302 to this Location.
    Redirect(String),
}

type Shared = Arc<Mutex<Record>>;

fn lock(state: &Shared) -> MutexGuard<'_, Record> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeVideoApi {
    pub async fn start() -> FakeVideoApi {
        let state = Shared::default();
        let router = Router::new()
            .route("/v1/video/create", post(create))
            .route("/v1/video/query", get(query))
            .route("/v1/models", get(models))
            .route("/files/{name}", get(file))
            .with_state(state.clone());
        FakeVideoApi { state, server: Arc::new(Server::start(router).await) }
    }

    /// The base URL for VIDEO_API_BASE_URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The id of the default answer to the `n`th create call (from 1), not
    /// counting creates refused because their model is retired.
    pub fn task_id(n: usize) -> String {
        format!("sora-2:task_{n}")
    }

    /// Answers the next create call not yet scripted with `reply`
    /// instead of the default `{"id": task_id(n), "status": "pending"}`.
    pub fn push_create(&self, reply: Reply) {
        lock(&self.state).create_script.push_back(reply);
    }

    /// Queries of `id` get `replies` in order, then the last one forever.
    /// Unscripted ids answer `{"id": id, "status": "pending"}`.
    pub fn script_task(&self, id: &str, replies: Vec<Reply>) {
        assert!(!replies.is_empty(), "script_task needs at least one reply");
        lock(&self.state).task_scripts.insert(id.into(), replies.into());
    }

    /// Every create call and every query of an unscripted id gets `reply`.
    /// Model listings are left alone (`answer_models`).
    pub fn answer_all(&self, reply: Reply) {
        lock(&self.state).every_answer = Some(reply);
    }

    /// From now on every create naming `model` is refused as a relay refuses
    /// a retired model ([`Reply::model_retired`]), before any script. Such a
    /// create is recorded but makes no task, so it does not move the
    /// numbering of [`FakeVideoApi::task_id`]. The listing is left as it is
    /// (`set_models`): a relay may go on listing a model it cannot serve.
    pub fn retire(&self, model: &str) {
        lock(&self.state).retired.insert(model.into());
    }

    /// `/v1/models` lists `ids` (by default [`LISTED_MODELS`]); also ends
    /// an `answer_models`.
    pub fn set_models(&self, ids: &[&str]) {
        let mut record = lock(&self.state);
        record.models = ids.iter().map(|&id| id.to_owned()).collect();
        record.models_answer = None;
    }

    /// Answers the next model listing not yet scripted with `reply`.
    pub fn push_models(&self, reply: Reply) {
        lock(&self.state).models_script.push_back(reply);
    }

    /// Every model listing after the scripted ones gets `reply` (until
    /// `set_models`).
    pub fn answer_models(&self, reply: Reply) {
        lock(&self.state).models_answer = Some(reply);
    }

    pub fn model_listings(&self) -> Vec<ModelsCall> {
        lock(&self.state).model_listings.clone()
    }

    /// Waits until at least `n` model listings arrived; panics on timeout.
    pub async fn wait_model_listings(&self, n: usize, timeout: Duration) -> Vec<ModelsCall> {
        let found = poll_until(timeout, || Some(self.model_listings()).filter(|calls| calls.len() >= n)).await;
        found.unwrap_or_else(|| {
            panic!("FakeVideoApi: expected {n} model listing(s) within {timeout:?}\n{}", self.dump())
        })
    }

    /// Serves `bytes` at `file_url(name)`; returns that URL.
    pub fn add_file(&self, name: &str, bytes: Vec<u8>) -> String {
        lock(&self.state).files.insert(name.into(), Served::Bytes(bytes));
        self.file_url(name)
    }

    /// Serves `html` at `file_url(name)` as a web page; returns that URL.
    pub fn add_page(&self, name: &str, html: &str) -> String {
        lock(&self.state).files.insert(name.into(), Served::Page(html.into()));
        self.file_url(name)
    }

    /// Serves `bytes` at `file_url(name)` without a Content-Length; returns that URL.
    pub fn add_chunked_file(&self, name: &str, bytes: Vec<u8>) -> String {
        lock(&self.state).files.insert(name.into(), Served::Chunked(bytes));
        self.file_url(name)
    }

    /// Answers `file_url(name)` with a redirect to `location`; returns that URL.
    pub fn add_redirect(&self, name: &str, location: &str) -> String {
        lock(&self.state).files.insert(name.into(), Served::Redirect(location.into()));
        self.file_url(name)
    }

    /// How many times a file URL was asked for.
    pub fn file_requests(&self) -> usize {
        lock(&self.state).file_requests
    }

    pub fn file_url(&self, name: &str) -> String {
        format!("{}/files/{name}", self.url())
    }

    pub fn creates(&self) -> Vec<CreateCall> {
        lock(&self.state).creates.clone()
    }

    pub fn queries(&self) -> Vec<QueryCall> {
        lock(&self.state).queries.clone()
    }

    /// The queries after the first `start`: a long run reads only what is new.
    pub fn queries_from(&self, start: usize) -> Vec<QueryCall> {
        lock(&self.state).queries.get(start..).unwrap_or_default().to_vec()
    }

    pub fn queries_of(&self, id: &str) -> Vec<QueryCall> {
        self.queries().into_iter().filter(|query| query.id == id).collect()
    }

    /// Waits until at least `n` create calls arrived; panics on timeout.
    pub async fn wait_creates(&self, n: usize, timeout: Duration) -> Vec<CreateCall> {
        let found = poll_until(timeout, || Some(self.creates()).filter(|creates| creates.len() >= n)).await;
        found.unwrap_or_else(|| panic!("FakeVideoApi: expected {n} create call(s) within {timeout:?}\n{}", self.dump()))
    }

    /// Waits until task `id` was queried at least `n` times; panics on timeout.
    pub async fn wait_queries(&self, id: &str, n: usize, timeout: Duration) -> Vec<QueryCall> {
        let found = poll_until(timeout, || Some(self.queries_of(id)).filter(|queries| queries.len() >= n)).await;
        found.unwrap_or_else(|| {
            panic!("FakeVideoApi: expected {n} query call(s) of {id} within {timeout:?}\n{}", self.dump())
        })
    }

    pub fn dump(&self) -> String {
        let record = lock(&self.state);
        let mut out = format!("{} creates:\n", record.creates.len());
        for create in &record.creates {
            out += &format!("  {}\n", create.body);
        }
        out += &format!("{} queries:\n", record.queries.len());
        for query in &record.queries {
            out += &format!("  {}\n", query.id);
        }
        out += &format!("{} model listings; retired: {:?}\n", record.model_listings.len(), record.retired);
        out
    }
}

async fn create(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| String::from_utf8_lossy(&body).into());
    let model = body.get("model").and_then(Value::as_str).map(str::to_owned);
    let call = CreateCall { headers: header_map(&headers), body, at: Instant::now(), answered_at: None };
    let (index, reply) = {
        let mut record = lock(&state);
        record.creates.push(call);
        let index = record.creates.len() - 1;
        match model.filter(|model| record.retired.contains(model)) {
            // Refused before any script: a script is meant for a create that gets through.
            Some(model) => (index, Reply::model_retired(&model)),
            None => {
                record.tasks_made += 1;
                let scripted = record.create_script.pop_front().or_else(|| record.every_answer.clone());
                (index, scripted.unwrap_or_else(|| default_create_reply(record.tasks_made)))
            }
        }
    };
    tokio::time::sleep(reply.delay).await;
    lock(&state).creates[index].answered_at = Some(Instant::now());
    reply.response()
}

fn default_create_reply(n: usize) -> Reply {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as u64;
    Reply::json(200, json!({"id": FakeVideoApi::task_id(n), "status": "pending", "status_update_time": now_ms}))
}

async fn models(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let reply = {
        let mut record = lock(&state);
        record.model_listings.push(ModelsCall { headers: header_map(&headers), at: Instant::now() });
        let scripted = record.models_script.pop_front().or_else(|| record.models_answer.clone());
        scripted.unwrap_or_else(|| {
            let ids: Vec<&str> = record.models.iter().map(String::as_str).collect();
            Reply::models(&ids)
        })
    };
    tokio::time::sleep(reply.delay).await;
    reply.response()
}

async fn query(
    State(state): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let call = QueryCall {
        id: id.clone(),
        raw_query: uri.query().map(str::to_owned),
        headers: header_map(&headers),
        at: Instant::now(),
    };
    let reply = {
        let mut record = lock(&state);
        record.queries.push(call);
        next_task_reply(&mut record, &id)
    };
    tokio::time::sleep(reply.delay).await;
    reply.response()
}

fn next_task_reply(record: &mut Record, id: &str) -> Reply {
    match record.task_scripts.get_mut(id) {
        Some(script) if script.len() > 1 => script.pop_front().expect("non-empty"),
        Some(script) => script.front().expect("scripts are never empty").clone(),
        None => record.every_answer.clone().unwrap_or_else(|| Reply::task(id, "pending")),
    }
}

async fn file(State(state): State<Shared>, Path(name): Path<String>) -> Response {
    let mut record = lock(&state);
    record.file_requests += 1;
    match record.files.get(&name) {
        Some(Served::Bytes(bytes)) => ([(header::CONTENT_TYPE, "video/mp4")], bytes.clone()).into_response(),
        Some(Served::Page(html)) => ([(header::CONTENT_TYPE, "text/html")], html.clone()).into_response(),
        Some(Served::Chunked(bytes)) => {
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> = bytes.chunks(1000).map(|c| Ok(c.to_vec())).collect();
            Body::from_stream(futures_util::stream::iter(chunks)).into_response()
        }
        Some(Served::Redirect(location)) => (StatusCode::FOUND, [(header::LOCATION, location.clone())]).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
