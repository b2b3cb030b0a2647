//! The history index's names on the server: the alias readers use, the
//! concrete indices behind it (`<alias>-v<N>`), each index's uuid, and the ids of
//! the checkpoint documents kept per index. The projection, `query history` and
//! `replay history` all name them through here.

use elasticsearch::Elasticsearch;
use elasticsearch::indices::{IndicesDeleteParts, IndicesGetAliasParts, IndicesGetSettingsParts};
use serde_json::json;

use super::engine;
use super::retry::{HistoryError, read_answer};
use super::sink::NAME;

/// The id of a partition's checkpoint document: per projection, concrete index,
/// index uuid, topic and partition.
pub fn checkpoint_id(concrete: &str, uuid: &str, topic: &str, partition: i32) -> String {
    format!("{NAME}:{concrete}:{uuid}:{topic}:{partition}")
}

/// The indices `alias` points at (none when there is no such alias).
pub async fn alias_targets(
    client: &Elasticsearch,
    alias: &str,
) -> Result<Vec<String>, HistoryError> {
    indices_of(
        client,
        "reading the alias",
        IndicesGetAliasParts::Name(&[alias]),
    )
    .await
}

/// The uuid the server gave `index` when it was created: checkpoints are kept
/// per uuid, so an index deleted and made again starts from nothing.
pub async fn index_uuid(client: &Elasticsearch, index: &str) -> Result<String, HistoryError> {
    let during = "reading the index uuid";
    let response = client
        .indices()
        .get_settings(IndicesGetSettingsParts::Index(&[index]))
        .send()
        .await
        .map_err(HistoryError::during(during))?;
    let answer = read_answer(during, response).await?;
    answer[index]["settings"]["index"]["uuid"]
        .as_str()
        .filter(|uuid| !uuid.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| HistoryError::Answer {
            during,
            message: format!("no settings.index.uuid for {index}"),
        })
}

/// Moves `alias` from `old` to `new` in one `_aliases` request: readers see
/// one index or the other, never both nor none. `old` is what the alias
/// pointed at just before; should another swap have moved it meanwhile, the
/// request is refused as a whole (404 on either engine) and changes nothing.
pub async fn swap(
    client: &Elasticsearch,
    alias: &str,
    old: &[String],
    new: &str,
) -> anyhow::Result<()> {
    let mut actions: Vec<_> = old
        .iter()
        .map(|index| engine::remove_alias(index, alias))
        .collect();
    actions.push(json!({ "add": { "index": new, "alias": alias } }));
    let during = "swapping the alias";
    let response = client
        .indices()
        .update_aliases()
        .body(json!({ "actions": actions }))
        .send()
        .await
        .map_err(HistoryError::during(during))?;
    match read_answer(during, response).await {
        Ok(_) => Ok(()),
        Err(error @ HistoryError::Refused { status: 404, .. }) => Err(anyhow::anyhow!(
            "{error}; the alias {alias} no longer points at {} (another replay swapped it?): \
             nothing changed, run the same command again",
            old.join(", ")
        )),
        Err(error) => Err(error.into()),
    }
}

/// Deletes `index`; one that is gone already is fine.
pub async fn delete_index(client: &Elasticsearch, index: &str) -> Result<(), HistoryError> {
    let during = "deleting an index";
    let response = client
        .indices()
        .delete(IndicesDeleteParts::Index(&[index]))
        .send()
        .await
        .map_err(HistoryError::during(during))?;
    match read_answer(during, response).await {
        Ok(_) | Err(HistoryError::Refused { status: 404, .. }) => Ok(()),
        Err(error) => Err(error),
    }
}

/// The concrete indices of `alias`: `<alias>-*`.
pub async fn concrete_indices(
    client: &Elasticsearch,
    alias: &str,
) -> Result<Vec<String>, HistoryError> {
    let pattern = format!("{alias}-*");
    let parts = IndicesGetAliasParts::Index(&[&pattern]);
    indices_of(client, "listing the history indices", parts).await
}

/// The indices a `GET _alias` for `parts` names (none when the server has
/// nothing to show: 404).
async fn indices_of(
    client: &Elasticsearch,
    during: &'static str,
    parts: IndicesGetAliasParts<'_>,
) -> Result<Vec<String>, HistoryError> {
    let response = client
        .indices()
        .get_alias(parts)
        .send()
        .await
        .map_err(HistoryError::during(during))?;
    match read_answer(during, response).await {
        Ok(answer) => Ok(answer
            .as_object()
            .map(|found| found.keys().cloned().collect())
            .unwrap_or_default()),
        Err(HistoryError::Refused { status: 404, .. }) => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

/// One above the highest `<alias>-v<N>` of `indices`, and at least 2 (the
/// first index is `v1`).
pub fn next_version(alias: &str, indices: &[String]) -> u32 {
    let prefix = format!("{alias}-v");
    indices
        .iter()
        .filter_map(|index| index.strip_prefix(&prefix))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|n| n.parse::<u32>().ok())
        .max()
        .map_or(2, |highest| highest.saturating_add(1).max(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_version_is_one_above_the_highest_v_index() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(next_version("th", &[]), 2);
        assert_eq!(next_version("th", &names(&["th-v1"])), 2);
        assert_eq!(
            next_version("th", &names(&["th-v1", "th-v7", "th-v3", "th-x9", "th-v"])),
            8
        );
        assert_eq!(
            next_version("th", &names(&["other-v9", "th-vv3", "th-v2a"])),
            2
        );
    }
}
