"""The tag grammar and how tags resolve to versions and stages, without git.

These rules decide what `churn#prod` means to every deployment, so they are pinned here case by
case; the end-to-end tests then only need to show that real tags reach them.
"""

from __future__ import annotations

import random

import pytest

from model_registry.errors import InputError
from model_registry.tags import (ASSIGN, DEPRECATE, DEREGISTER, MAX_NAME, REGISTER, UNASSIGN, Ref,
                                 TagName, bump, check_model, check_name, check_version,
                                 is_model_name, is_valid_name, make_event, model_names,
                                 next_counter, parse_ref, parse_tag_name, resolve_model,
                                 semver_key, split_hashes, stages_seen, tag_prefix, with_hashes)


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("name", [
    "churn", "c", "7", "Churn2", "churn-v2", "churn_2024", "team/churn", "a/b/c", "x" * 100,
])
def test_valid_names_are_accepted(name):
    """Names GTO accepts must work here too, or a registry could not hold gto's models."""
    assert is_valid_name(name)
    assert check_name(name) == name


def test_names_too_long_for_a_tag_file_are_refused():
    """git stores each tag as a file; a name past MAX_NAME could not be tagged."""
    assert check_name("a" * MAX_NAME)
    with pytest.raises(InputError, match="keep it to"):
        check_name("a" * 300)


@pytest.mark.parametrize("name", [
    "", "..", "churn..v2", "churn.v2", "churn@prod", "churn#1", "churn:1", "churn model",
    " churn", "modèle", "churn™", "-churn", "churn-", "_churn", "/churn", "churn/",
    "churn\n",
])
def test_invalid_names_are_refused(name):
    """A name that cannot be a clean git tag component is refused before anything is written."""
    assert not is_valid_name(name)
    with pytest.raises(InputError):
        check_name(name)


@pytest.mark.parametrize("name, tagged", [
    ("dir:churn", "dir=churn"), ("models/sub.dir:churn", "models/sub.dir=churn"),
    ("a-b_c/d:team/churn", "a-b_c/d=team/churn"), ("churn", "churn"),
])
def test_models_in_folders_are_read_as_gto_names_them(name, tagged):
    """gto names a model in a folder `dir:name` and writes `dir=name` into its tags."""
    assert is_model_name(name) and check_model(name) == name
    assert tag_prefix(name) == tagged


@pytest.mark.parametrize("name", ["dir:", ":churn", "a:b:churn", "dir=churn", "di r:churn",
                                  "dir:churn-", "dir@x:churn"])
def test_malformed_folder_names_are_refused(name):
    assert not is_model_name(name)
    with pytest.raises(InputError):
        check_model(name)


def test_models_in_folders_are_read_but_not_written():
    """Writing commands take the helper's plain names; a folder name says why it is refused."""
    with pytest.raises(InputError, match="reads but does not write"):
        check_name("dir:churn")


# ---------------------------------------------------------------- versions


@pytest.mark.parametrize("version", [
    "v0.0.1", "v1.4.0", "v10.20.30", "v1.0.0-rc.1", "v1.0.0-alpha.beta.1", "v1.0.0+build.7",
    "v1.0.0-rc.1+sha.5114f85",
])
def test_semver_versions_with_lower_v_are_accepted(version):
    assert check_version(version) == version


@pytest.mark.parametrize("version", [
    "1.0.0", "v1", "v1.0", "v01.0.0", "v1.00.0", "V1.0.0", "v1.0.0.0", "v1.0.0-", "v1.0.0-01",
    "v1.0.0+", "vlatest", "latest", "", " v1.0.0", "v1.0.0\n",
])
def test_malformed_versions_are_refused(version):
    """Only SemVer with a lower-case 'v' makes a tag gto and `dvc artifacts get` agree on."""
    with pytest.raises(InputError):
        check_version(version)


def test_semver_precedence_orders_prereleases_below_the_release():
    """SemVer 2.0.0 precedence decides `latest`; a string sort would get most of these wrong."""
    expected = [
        "v0.9.0", "v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-alpha.beta", "v1.0.0-beta",
        "v1.0.0-beta.2", "v1.0.0-beta.11", "v1.0.0-rc.1", "v1.0.0", "v1.0.1", "v1.9.0",
        "v1.10.0", "v2.0.0",
    ]
    shuffled = expected[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=semver_key) == expected


def test_build_metadata_does_not_change_precedence():
    assert semver_key("v1.0.0+build.1") == semver_key("v1.0.0+build.2") == semver_key("v1.0.0")


@pytest.mark.parametrize("current, part, expected", [
    (None, "major", "v1.0.0"), (None, "minor", "v0.1.0"), (None, "patch", "v0.0.1"),
    ("v1.2.3", "major", "v2.0.0"), ("v1.2.3", "minor", "v1.3.0"), ("v1.2.3", "patch", "v1.2.4"),
    ("v1.9.9", "minor", "v1.10.0"), ("v1.2.3+build.4", "patch", "v1.2.4"),
])
def test_bump_gives_the_next_version(current, part, expected):
    """`register --bump` must never reuse a version or skip a part users did not ask for."""
    assert bump(current, part) == expected


# ---------------------------------------------------------------- tag names


@pytest.mark.parametrize("tag, expected", [
    ("churn@v1.4.0", TagName("churn", REGISTER, version="v1.4.0")),
    ("churn@v1.4.0!", TagName("churn", DEREGISTER, version="v1.4.0")),
    ("churn#prod#7", TagName("churn", ASSIGN, stage="prod", counter=7)),
    ("churn#prod!#8", TagName("churn", UNASSIGN, stage="prod", counter=8)),
    ("churn@deprecated", TagName("churn", DEPRECATE)),
    ("churn@deprecated#9", TagName("churn", DEPRECATE, counter=9)),
    ("team/churn@v2.0.0-rc.1", TagName("team/churn", REGISTER, version="v2.0.0-rc.1")),
    ("team/churn#staging#12", TagName("team/churn", ASSIGN, stage="staging", counter=12)),
    # the rest of gto's grammar: counters on any tag, tags without, any stage name, folders
    ("churn@v1.4.0#3", TagName("churn", REGISTER, version="v1.4.0", counter=3)),
    ("churn@v1.4.0!#4", TagName("churn", DEREGISTER, version="v1.4.0", counter=4)),
    ("churn#prod", TagName("churn", ASSIGN, stage="prod")),
    ("churn#prod!", TagName("churn", UNASSIGN, stage="prod")),
    ("churn#ml/eu-west_2#5", TagName("churn", ASSIGN, stage="ml/eu-west_2", counter=5)),
    ("churn#P#6", TagName("churn", ASSIGN, stage="P", counter=6)),
    ("dir=churn@v1.0.0", TagName("dir:churn", REGISTER, version="v1.0.0")),
    ("a/b.c=team/churn#prod!#9", TagName("a/b.c:team/churn", UNASSIGN, stage="prod",
                                          counter=9)),
    ("dir=churn@deprecated#2", TagName("dir:churn", DEPRECATE, counter=2)),
])
def test_every_kind_of_registry_tag_is_understood(tag, expected):
    assert parse_tag_name(tag) == expected


@pytest.mark.parametrize("tag", [
    "v1.4.0", "release-2024", "churn", "churn@latest", "churn@v1.4", "churn@1.4.0",
    "churn@v1.4.0!!", "churn#", "churn#prod#", "churn#prod#x", "@v1.0.0", "#prod#1",
    "modèle@v1.0.0", "churn@v1.4.0#prod", "churn@v1.4.0\n",
    # tags gto ignores too
    "x@tag", "GTO-tag", "a=b", "a=b=churn@v1.0.0", "=churn@v1.0.0", "dir=churn",
    "dir:churn@v1.0.0", "churn#prod/#1", "churn#/prod#1",
])
def test_other_tags_are_not_registry_events(tag):
    """Release tags and typos in a registry must be ignored, never misread or crash it."""
    assert parse_tag_name(tag) is None
    assert make_event(tag, "c0ffee", 1) is None


def test_next_counter_is_one_more_than_any_tag_of_the_model():
    """gto numbers stage tags per model over every tag name, so two stages never share N."""
    names = ["churn@v1.0.0", "churn#prod#3", "churn#dev!#7", "churn@deprecated#5",
             "churn-v2#prod#40", "team/churn#prod#50", "v9.9.9", "release-1"]
    assert next_counter("churn", names) == 8
    assert next_counter("churn-v2", names) == 41
    assert next_counter("fresh", names) == 1
    assert next_counter("churn", []) == 1


# ---------------------------------------------------------------- refs


@pytest.mark.parametrize("ref, expected", [
    ("churn", Ref("churn")),
    ("churn@latest", Ref("churn")),
    ("churn@greatest", Ref("churn")),
    ("churn@v1.2.3", Ref("churn", version="v1.2.3")),
    ("churn@v1.0.0-rc.1", Ref("churn", version="v1.0.0-rc.1")),
    ("churn#prod", Ref("churn", stage="prod")),
    ("team/churn#prod", Ref("team/churn", stage="prod")),
    ("churn#prod#7", Ref("churn", tag="churn#prod#7")),
    ("churn#prod!#8", Ref("churn", tag="churn#prod!#8")),
    ("churn@v1.2.3!", Ref("churn", tag="churn@v1.2.3!")),
    ("churn@deprecated", Ref("churn", tag="churn@deprecated")),
    ("churn@v1.2.3#4", Ref("churn", tag="churn@v1.2.3#4")),
    ("churn#ml/eu-west_2", Ref("churn", stage="ml/eu-west_2")),
])
def test_every_documented_ref_form_parses(ref, expected):
    parsed = parse_ref(ref)
    assert parsed == expected
    assert parsed.latest == (ref in ("churn", "churn@latest", "churn@greatest"))


@pytest.mark.parametrize("ref, expected", [
    ("dir:churn", Ref("dir:churn")),
    ("dir:churn@latest", Ref("dir:churn")),
    ("dir:churn@v1.0.0", Ref("dir:churn", version="v1.0.0")),
    ("dir:churn#prod", Ref("dir:churn", stage="prod")),
    ("a/b.c:team/churn#prod", Ref("a/b.c:team/churn", stage="prod")),
    # a full tag, named as gto shows the model or as the tag is written
    ("dir:churn#prod#3", Ref("dir:churn", tag="dir=churn#prod#3")),
    ("dir=churn#prod#3", Ref("dir:churn", tag="dir=churn#prod#3")),
    ("dir=churn@v1.0.0", Ref("dir:churn", version="v1.0.0")),
    ("dir:churn@v1.0.0!", Ref("dir:churn", tag="dir=churn@v1.0.0!")),
])
def test_refs_name_models_in_folders(ref, expected):
    """`dir:name@v1.0.0` and `dir:name#prod` mean what they mean to `gto show`."""
    assert parse_ref(ref) == expected


@pytest.mark.parametrize("ref", [
    "", "churn@", "churn#", "churn@1.2.3", "churn@v1.2", "churn@newest", "@v1.0.0", "#prod",
    "churn prod", "churn@v1.2.3#prod", "churn#pr od", "churn\n", "dir=churn", "dir:churn@",
    "dir:churn#", "a:b:churn@v1.0.0", "churn@created", "x@tag",
])
def test_malformed_refs_are_refused(ref):
    """A typo in a deployment's ref must be an error, never a silent fallback to latest."""
    with pytest.raises(InputError):
        parse_ref(ref)


# ---------------------------------------------------------------- resolution

# Each version lives on its own commit: v1.0.0 on c1, v2.0.0 on c2 and so on. Times are the
# tagger times in seconds; any order of the rows must give the same state.
V1 = [("churn@v1.0.0", "c1", 10), ("churn@v2.0.0", "c2", 20)]


def resolve(rows, model="churn"):
    events = [make_event(tag, commit, time) for tag, commit, time in rows]
    return resolve_model(model, [e for e in events if e is not None])


def summary(state):
    return {"latest": state.latest.version if state.latest else None,
            "stages": {s: v.version for s, v in state.stages.items()},
            "deprecated": state.deprecated}


def test_latest_is_the_highest_semver_not_the_newest_tag():
    """A hotfix of an old line (v1.9.1 after v1.10.0) must not become latest."""
    state = resolve([("churn@v1.0.0", "c1", 10), ("churn@v1.10.0", "c2", 20),
                     ("churn@v1.9.1", "c3", 30)])
    assert state.latest.version == "v1.10.0"
    assert [v.version for v in state.active_versions] == ["v1.10.0", "v1.9.1", "v1.0.0"]


def test_a_prerelease_is_below_its_release_but_above_older_releases():
    state = resolve([("churn@v1.0.0-rc.1", "c1", 10), ("churn@v0.9.0", "c2", 20)])
    assert state.latest.version == "v1.0.0-rc.1"
    state = resolve([("churn@v1.0.0-rc.1", "c1", 10), ("churn@v1.0.0", "c2", 20)])
    assert state.latest.version == "v1.0.0"


def test_deregistered_version_no_longer_resolves():
    state = resolve(V1 + [("churn@v2.0.0!", "c2", 30)])
    assert state.latest.version == "v1.0.0"
    assert state.find_version("v2.0.0") is None
    assert state.find_version("v1.0.0").commit == "c1"

    state = resolve(V1 + [("churn@v2.0.0!", "c2", 30), ("churn@v1.0.0!", "c1", 40)])
    assert summary(state) == {"latest": None, "stages": {}, "deprecated": False}


def test_stage_moves_to_the_version_assigned_most_recently():
    rows = V1 + [("churn#prod#1", "c1", 30)]
    assert summary(resolve(rows))["stages"] == {"prod": "v1.0.0"}

    rows.append(("churn#prod#2", "c2", 40))
    state = resolve(rows)
    assert summary(state)["stages"] == {"prod": "v2.0.0"}
    assert state.stages_of(state.find_version("v1.0.0")) == []

    rows.append(("churn#prod#3", "c1", 50))  # rollback by promoting the old version again
    assert summary(resolve(rows))["stages"] == {"prod": "v1.0.0"}


def test_stages_are_independent():
    state = resolve(V1 + [("churn#dev#1", "c2", 30), ("churn#prod#2", "c1", 40)])
    assert summary(state)["stages"] == {"dev": "v2.0.0", "prod": "v1.0.0"}
    assert state.stages_of(state.find_version("v2.0.0")) == ["dev"]


def test_unassignment_falls_back_to_the_newest_assignment_not_undone():
    """As `gto show` does: demoting v2 from prod leaves v1's earlier assignment in force."""
    rows = V1 + [("churn#prod#1", "c1", 30), ("churn#prod#2", "c2", 40),
                 ("churn#prod!#3", "c2", 50)]
    assert summary(resolve(rows))["stages"] == {"prod": "v1.0.0"}

    rows.append(("churn#prod!#4", "c1", 60))
    assert summary(resolve(rows))["stages"] == {}

    rows.append(("churn#prod#5", "c2", 70))  # assigning again after an undo counts
    assert summary(resolve(rows))["stages"] == {"prod": "v2.0.0"}


def test_deregistering_the_version_in_a_stage_empties_that_stage():
    state = resolve(V1 + [("churn#prod#1", "c2", 30), ("churn@v2.0.0!", "c2", 40)])
    assert summary(state) == {"latest": "v1.0.0", "stages": {}, "deprecated": False}


def test_deprecated_model_resolves_to_nothing():
    state = resolve(V1 + [("churn#prod#1", "c2", 30), ("churn@deprecated", "c2", 40)])
    assert summary(state) == {"latest": None, "stages": {}, "deprecated": True}
    assert state.find_version("v1.0.0") is None


def test_registering_after_deprecation_revives_the_model():
    rows = V1 + [("churn@deprecated", "c2", 30), ("churn@v3.0.0", "c3", 40)]
    state = resolve(rows)
    assert not state.deprecated
    assert state.latest.version == "v3.0.0"

    rows.append(("churn@deprecated#4", "c3", 50))  # the second deprecation carries a counter
    assert summary(resolve(rows)) == {"latest": None, "stages": {}, "deprecated": True}


def test_resolution_does_not_depend_on_the_order_tags_are_listed_in():
    rows = V1 + [("churn@v1.1.0", "c3", 25), ("churn#prod#1", "c1", 30),
                 ("churn#prod#2", "c3", 40), ("churn#dev#3", "c2", 45),
                 ("churn#prod!#4", "c3", 50), ("churn@v2.0.0!", "c2", 60)]
    expected = summary(resolve(rows))
    assert expected == {"latest": "v1.1.0", "stages": {"prod": "v1.0.0"}, "deprecated": False}
    for seed in range(5):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        assert summary(resolve(shuffled)) == expected


def test_other_models_and_foreign_tags_do_not_leak_in():
    """`churn` must not see `churn-v2` or `team/churn`, whose names merely look alike."""
    rows = V1 + [("churn-v2@v9.0.0", "c7", 30), ("team/churn@v8.0.0", "c8", 40),
                 ("team/churn#prod#1", "c8", 50), ("v7.0.0", "c9", 60), ("release", "c9", 70)]
    assert summary(resolve(rows)) == {"latest": "v2.0.0", "stages": {}, "deprecated": False}
    events = [e for e in (make_event(t, c, w) for t, c, w in rows) if e]
    assert model_names(events) == ["churn", "churn-v2", "team/churn"]


def test_models_in_folders_resolve_apart_from_plain_names():
    """`dir:churn` and `churn` are two models, as gto keeps them."""
    rows = V1 + [("dir=churn@v5.0.0", "c5", 30), ("dir=churn#prod#1", "c5", 40)]
    events = [make_event(t, c, w) for t, c, w in rows]
    assert summary(resolve(rows)) == {"latest": "v2.0.0", "stages": {}, "deprecated": False}
    assert summary(resolve_model("dir:churn", events)) == {
        "latest": "v5.0.0", "stages": {"prod": "v5.0.0"}, "deprecated": False}
    assert model_names(events) == ["churn", "dir:churn"]


def test_stages_seen_are_listed_in_the_order_first_used():
    """Without registry.yaml or .gto, a repository's stages are those its tags use."""
    rows = V1 + [("churn#staging#1", "c1", 30), ("churn#prod#2", "c2", 25),
                 ("churn#staging!#3", "c1", 50), ("churn#dev#4", "c2", 60),
                 ("team/churn#qa#1", "c9", 20)]
    events = [make_event(t, c, w) for t, c, w in rows]
    assert stages_seen(events) == ["qa", "prod", "staging", "dev"]


def test_a_model_with_no_tags_has_no_versions():
    assert summary(resolve([])) == {"latest": None, "stages": {}, "deprecated": False}


# ---------------------------------------------------------------- registration messages

MD5, SHA = "0" * 32, "f" * 64


@pytest.mark.parametrize("message", ["Register churn v1.0.0", "first model\n\nwith details\n"])
def test_a_registration_message_gives_back_its_text_and_hashes(message):
    text, hashes = split_hashes(with_hashes(message, f"{MD5}.dir", SHA))
    assert (text, hashes) == (message.rstrip(), {"md5": f"{MD5}.dir", "sha256": SHA})


@pytest.mark.parametrize("message", [
    "Register churn v1.0.0",  # made by hand or by gto
    f"Artifact-MD5: {MD5}",  # one trailer alone is not the pair register writes
    f"Register\n\nArtifact-MD5: {MD5}\n\nSigned-off-by: someone",  # not the last paragraph
])
def test_a_message_without_both_trailers_gives_no_hashes(message):
    assert split_hashes(message) == (message, None)


def test_unknown_hashes_write_no_trailers():
    """A card from a pull request may lack a hash: the tag then says nothing rather than
    something wrong, and `which` reads that version's card."""
    assert with_hashes("Register churn v1.0.0", MD5, None) == "Register churn v1.0.0"
