//! Three replicas of the bot in webhook mode on one PostgreSQL database, each
//! update posted to one of them in turn as a round-robin load balancer would:
//! commands spread over the replicas, an album split across all three makes
//! one request with all its photos, a reply to one of its photos on another
//! replica gets the whole album, and after one replica is killed every video
//! is still delivered exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use testkit::*;

use crate::*;
const WEBHOOK_SECRET: &str = "replicas_secret_1";
/// The lease time, max(3 × POLL_INTERVAL_SECS, 30 s): the tasks of a killed
/// replica are taken over by the others within it, once its heartbeat is old.
const LEASE_TTL: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn data_url(bytes: &[u8]) -> String {
    format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The replicas share the fakes, the database and the public URL; each has a
/// port of its own.
struct Replicas {
    env: TestEnv,
    bots: Vec<Option<BotProcess>>,
    ports: Vec<u16>,
    database_url: String,
    next_update_id: i64,
    next_replica: usize,
}

impl Replicas {
    async fn start(n: usize) -> Replicas {
        let database_url = fresh_postgres_db().await;
        let mut env = TestEnv::start(bot_bin()).await;
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        env.set_env("DATABASE_URL", &database_url);
        env.set_env("WEBHOOK_SECRET", WEBHOOK_SECRET);
        // The load balancer's address; Telegram only ever sees this one.
        env.set_env("PUBLIC_BASE_URL", &format!("http://127.0.0.1:{}", ports[0]));
        env.set_env("IMAGE_MODE", "data");
        env.set_env("MAX_ACTIVE_PER_USER", "5");
        let mut bots = Vec::new();
        for port in &ports {
            env.set_env("HTTP_BIND", &format!("127.0.0.1:{port}"));
            let bot = env.start_bot();
            bot.wait_log("receiving updates by webhook", WAIT).await;
            bots.push(Some(bot));
        }
        Replicas { env, bots, ports, database_url, next_update_id: 1, next_replica: 0 }
    }

    /// Posts `update` to replica `replica` as Telegram would.
    async fn post_update(&self, replica: usize, update: &Value) {
        let response = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/telegram/webhook", self.ports[replica]))
            .header("content-type", "application/json")
            .header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
            .body(update.to_string())
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST to replica {replica}: {error}"));
        assert_eq!(response.status().as_u16(), 200, "replica {replica} refused a genuine update");
    }

    /// Wraps `message` in a new update and posts it to `replica`; returns the update.
    async fn deliver_to(&mut self, replica: usize, message: &Value) -> Value {
        let update = json!({"update_id": self.next_update_id, "message": message});
        self.next_update_id += 1;
        self.post_update(replica, &update).await;
        update
    }

    /// The next live replica in turn, as a round-robin balancer picks it.
    async fn deliver(&mut self, message: &Value) -> usize {
        loop {
            let replica = self.next_replica % self.bots.len();
            self.next_replica += 1;
            if self.bots[replica].is_some() {
                self.deliver_to(replica, message).await;
                return replica;
            }
        }
    }

    /// SIGKILL: the replica dies with its leases and its in-memory state.
    fn kill(&mut self, replica: usize) {
        let bot = self.bots[replica].take().expect("replica alive");
        bot.kill();
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for (i, bot) in self.bots.iter().enumerate() {
            if let Some(bot) = bot {
                out += &format!("--- replica {i} ---\n{}", bot.logs());
            }
        }
        out
    }

    async fn finish(self) {
        drop(self.bots);
        drop_postgres_db(&self.database_url).await;
    }
}

/// The create whose prompt is `prompt`, waiting for it.
async fn create_with_prompt(env: &TestEnv, prompt: &str) -> Value {
    let found =
        poll_until(WAIT, || env.video.creates().into_iter().find(|create| create.body["prompt"] == json!(prompt)))
            .await;
    found.unwrap_or_else(|| panic!("no create for {prompt:?}\n{}", env.video.dump())).body
}

#[tokio::test]
async fn three_replicas_share_albums_and_deliver_every_video_once_after_one_is_killed() {
    let mut replicas = Replicas::start(3).await;

    // Commands spread over the replicas: six users, two commands per replica.
    let mut commands: Vec<Value> = Vec::new();
    let mut handled_by = BTreeMap::new();
    for i in 0..6_i64 {
        let user = 9100 + i;
        let command = Msg::text(&Chat::private(user), &User::new(user), &format!("/video replica spread {i}")).build();
        let replica = replicas.deliver(&command).await;
        *handled_by.entry(replica).or_insert(0) += 1;
        commands.push(command);
    }
    assert_eq!(handled_by.values().copied().collect::<Vec<_>>(), [2, 2, 2]);
    replicas.env.video.wait_creates(6, WAIT).await;

    // An album of three in a group, one update per replica; the caption (on
    // the second photo) reaches the next replica before the third photo
    // reaches the last, and Telegram delivers the caption twice (to two
    // replicas), as it does when a webhook answer comes too late.
    let group = Chat::group(-9200);
    let (author, replier) = (User::new(9200), User::new(9201));
    let bytes: Vec<Vec<u8>> =
        ["rep-a1", "rep-a2", "rep-a3"].iter().map(|prefix| replicas.env.tg.add_photo(prefix)).collect();
    let album = [
        Msg::photo(&group, &author, "rep-a1").album("split-album").build(),
        Msg::photo(&group, &author, "rep-a2")
            .album("split-album")
            .caption("/video three friends on three replicas")
            .build(),
        Msg::photo(&group, &author, "rep-a3").album("split-album").build(),
    ];
    replicas.deliver_to(0, &album[0]).await;
    let caption = replicas.deliver_to(1, &album[1]).await;
    replicas.post_update(2, &caption).await;
    replicas.deliver_to(2, &album[2]).await;
    let expected: Vec<String> = bytes.iter().map(|b| data_url(b)).collect();
    let create = create_with_prompt(&replicas.env, "three friends on three replicas").await;
    assert_eq!(create["images"], json!(expected), "one create with the whole album, in order");

    // A reply to the album's last photo, on the replica that saw only the
    // first: the whole album again.
    let reply = Msg::text(&group, &replier, "/video the same friends, later").reply_to(&album[2]).build();
    replicas.deliver_to(0, &reply).await;
    let create = create_with_prompt(&replicas.env, "the same friends, later").await;
    assert_eq!(create["images"], json!(expected), "a reply to one photo brings the album");

    // No replica made a second request for the album (the window is about a
    // second, at most three).
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let creates = replicas.env.video.creates();
    assert_eq!(creates.len(), 8, "one create per command\n{}", replicas.env.video.dump());

    // Every task is open (pending upstream). One replica dies; then every
    // task completes upstream.
    replicas.kill(1);
    for n in 1..=creates.len() {
        let id = FakeVideoApi::task_id(n);
        let url = replicas.env.video.file_url(&format!("replica-v{n}.mp4"));
        replicas.env.video.script_task(&id, vec![Reply::completed(&id, &url)]);
    }

    // The dead replica's tasks are taken over once their leases run out.
    let delivered = replicas.env.tg.wait_for("sendVideo", creates.len(), LEASE_TTL + WAIT * 2).await;
    assert!(delivered.len() >= creates.len());
    // Long enough for a second delivery to show.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let mut per_command: BTreeMap<(i64, i64), usize> = BTreeMap::new();
    for video in replicas.env.tg.attempts_of("sendVideo") {
        let command = video.body["reply_parameters"]["message_id"].as_i64().unwrap_or_default();
        *per_command.entry((video.chat_id().unwrap_or_default(), command)).or_default() += 1;
    }
    let mut expected_commands: Vec<(i64, i64)> =
        commands.iter().map(|c| (c["chat"]["id"].as_i64().unwrap(), msg_id(c))).collect();
    expected_commands.push((group.id, msg_id(&album[1])));
    expected_commands.push((group.id, msg_id(&reply)));
    for key in &expected_commands {
        assert_eq!(
            per_command.get(key),
            Some(&1),
            "video for command {key:?} not delivered exactly once: {per_command:?}\n{}",
            replicas.env.tg.dump()
        );
    }
    assert_eq!(per_command.len(), expected_commands.len(), "{per_command:?}");
    assert_eq!(replicas.env.video.creates().len(), 8, "no task created twice\n{}", replicas.logs());
    replicas.finish().await;
}

/// A replica holding open tasks is killed (SIGKILL, its heartbeat simply
/// stops): the survivor takes every one of them over within the lease time,
/// each exactly once, and polls them from then on.
#[tokio::test]
async fn a_killed_replicas_tasks_are_taken_over_once_within_the_lease_time() {
    let mut replicas = Replicas::start(2).await;
    for i in 0..4_i64 {
        let user = 9300 + i;
        let command = Msg::text(&Chat::private(user), &User::new(user), &format!("/video take over {i}")).build();
        replicas.deliver_to(0, &command).await;
    }
    replicas.env.video.wait_creates(4, WAIT).await;
    let ids: Vec<String> = (1..=4).map(FakeVideoApi::task_id).collect();
    // Followed by the replica that created them (POLL_INTERVAL_SECS=1).
    let polled = poll_until(WAIT, || {
        let queries = replicas.env.video.queries();
        ids.iter().all(|id| queries.iter().any(|q| &q.id == id)).then_some(())
    })
    .await;
    assert!(polled.is_some(), "{}", replicas.env.video.dump());
    let survivor_log = |r: &Replicas| r.bots[1].as_ref().expect("alive").logs();
    assert!(!survivor_log(&replicas).contains("took over open tasks"), "nothing taken while the owner lives");

    replicas.kill(0);
    let killed = std::time::Instant::now();
    let resumed = poll_until(LEASE_TTL + WAIT, || {
        let queries = replicas.env.video.queries();
        let firsts: Option<Vec<std::time::Instant>> =
            ids.iter().map(|id| queries.iter().filter(|q| &q.id == id && q.at > killed).map(|q| q.at).min()).collect();
        firsts.map(|firsts| firsts.into_iter().max().expect("four"))
    })
    .await
    .unwrap_or_else(|| panic!("not taken over\n{}", replicas.logs()));
    let took = resumed.duration_since(killed);
    eprintln!("take-over after kill -9: every task polled again {:.1} s after the kill", took.as_secs_f64());
    assert!(took <= LEASE_TTL, "taken over after {took:?}, the lease time is {LEASE_TTL:?}");
    assert!(took >= Duration::from_secs(10), "a live heartbeat is a few seconds old: taken too soon ({took:?})");
    let log = survivor_log(&replicas);
    assert_eq!(log.matches("took over open tasks").count(), 1, "{log}");
    assert!(log.contains("count=4"), "{log}");

    // Each one is finished and delivered once.
    for (n, id) in ids.iter().enumerate() {
        let url = replicas.env.video.file_url(&format!("takeover-v{n}.mp4"));
        replicas.env.video.script_task(id, vec![Reply::completed(id, &url)]);
    }
    replicas.env.tg.wait_for("sendVideo", 4, WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(replicas.env.tg.attempts_of("sendVideo").len(), 4, "{}", replicas.env.tg.dump());
    replicas.finish().await;
}
