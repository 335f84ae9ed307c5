use super::*;

fn peer(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), 40000)
}

fn bearer(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    headers
}

#[test]
fn metrics_are_for_loopback_or_the_token_holder() {
    let none = HeaderMap::new();
    assert!(metrics_access(None, peer("127.0.0.1"), &none).is_ok());
    assert!(metrics_access(None, peer("::1"), &none).is_ok());
    assert!(metrics_access(None, peer("::ffff:127.0.0.1"), &none).is_ok());
    assert_eq!(metrics_access(None, peer("203.0.113.9"), &none).unwrap_err(), StatusCode::FORBIDDEN);

    let token = SecretString::from("0123456789abcdef");
    for ip in ["127.0.0.1", "203.0.113.9"] {
        assert!(metrics_access(Some(&token), peer(ip), &bearer("Bearer 0123456789abcdef")).is_ok());
        for wrong in [
            none.clone(),
            bearer("Bearer 0123456789abcdeX"),
            bearer("Bearer 0123456789abcdef0"),
            bearer("0123456789abcdef"),
        ] {
            assert_eq!(metrics_access(Some(&token), peer(ip), &wrong).unwrap_err(), StatusCode::UNAUTHORIZED);
        }
    }
}

#[test]
fn a_full_server_closes_the_oldest_idle_connection_and_never_a_busy_one() {
    let connections = Arc::new(Connections::new(2));
    let first = connections.admit().unwrap();
    let second = connections.admit().unwrap();
    let busy = Busy::start(first.conn.clone());
    let third = connections.admit().expect("the idle one makes room");
    assert!(second.conn.evict.is_cancelled() && !first.conn.evict.is_cancelled());
    drop(second);
    let _also_busy = Busy::start(third.conn.clone());
    assert!(connections.admit().is_none(), "all busy: the newcomer is refused");
    drop(busy);
    assert!(connections.admit().is_some());
    assert!(first.conn.evict.is_cancelled());
}
