//! `GET /sync/last_activities` (the timestamps are kept in `LastActivities`).

use crate::route::{Access, Ctx, Reply, RouteDef};

pub(crate) fn routes() -> Vec<RouteDef> {
    vec![RouteDef::new("GET", "/sync/last_activities", Access::User, get_last_activities)]
}

fn get_last_activities(ctx: &mut Ctx<'_>) -> Reply {
    Reply::json(200, ctx.state.library.last_activities.to_json())
}
