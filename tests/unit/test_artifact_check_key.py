"""A remembered safe-format verdict applies only to the same bytes under the same rules."""

from __future__ import annotations

from mvctl.apply.served import check_key

DIGEST = "sha256:" + "a" * 64


def key(
    digest: str = DIGEST,
    trusted_types: tuple[str, ...] = ("sklearn.tree._tree.Tree",),
    registered: bool = True,
    torch_module: str | None = None,
) -> str:
    return check_key(digest, trusted_types, registered=registered, torch_module=torch_module)


def test_every_input_of_the_verdict_changes_its_key() -> None:
    variants = [
        key(),
        key(digest="sha256:" + "b" * 64),
        key(trusted_types=()),
        key(trusted_types=("sklearn.tree._tree.Tree", "mypkg.Custom")),
        key(registered=False),
        key(torch_module="mypkg.Net"),
    ]
    assert len(set(variants)) == len(variants)


def test_the_order_and_repetition_of_trusted_types_do_not_matter() -> None:
    assert key(trusted_types=("b.B", "a.A")) == key(trusted_types=("a.A", "b.B", "a.A"))
