//! When each of our open tasks is polled next, kept in memory: a poll that
//! changes nothing writes nothing. Rebuilt from the database at start and after
//! a take-over; a restart or a take-over only loses the exact times, not tasks.

use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Default)]
pub struct Timetable {
    by_time: BTreeSet<(i64, i64)>,
    by_task: HashMap<i64, i64>,
}

impl Timetable {
    /// Puts task `id`'s next poll at `at` (unix ms), replacing any earlier plan.
    pub fn plan(&mut self, id: i64, at: i64) {
        if let Some(old) = self.by_task.insert(id, at) {
            self.by_time.remove(&(old, id));
        }
        self.by_time.insert((at, id));
    }

    /// Adds task `id` at `at` unless it is planned already.
    pub fn add(&mut self, id: i64, at: i64) {
        if !self.by_task.contains_key(&id) {
            self.plan(id, at);
        }
    }

    /// Removes and returns up to `limit` tasks due by `now`, the longest-due first.
    pub fn take_due(&mut self, now: i64, limit: usize) -> Vec<i64> {
        let mut due = Vec::new();
        while due.len() < limit {
            let Some(&(at, id)) = self.by_time.first() else { break };
            if at > now {
                break;
            }
            self.by_time.pop_first();
            self.by_task.remove(&id);
            due.push(id);
        }
        due
    }

    pub fn len(&self) -> usize {
        self.by_task.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_tasks_come_out_longest_due_first_and_once() {
        let mut table = Timetable::default();
        table.plan(1, 300);
        table.plan(2, 100);
        table.plan(3, 200);
        table.add(2, 50);
        table.plan(3, 900);
        assert_eq!(table.take_due(250, 10), vec![2]);
        assert_eq!(table.take_due(1_000, 1), vec![1]);
        assert_eq!(table.take_due(1_000, 10), vec![3]);
        assert!(table.take_due(1_000, 10).is_empty());
        assert_eq!(table.len(), 0);
    }
}
