"""Resources and producer→consumer links are inferred from specs: names, schemas and links."""

from __future__ import annotations

from replayqa.demo.run import spec_path
from replayqa.synth.openapi import Api
from replayqa.synth.resources import ResourceMap
from tests.support.library_app import library_spec


def labels(ops):
    return sorted(op.label for op in ops)


def test_demo_shop_resources_and_auth():
    resources = ResourceMap(Api.load(spec_path()))
    item, cart, order = (resources.resources[n] for n in ("item", "cart", "order"))
    assert labels(p.operation for p in item.creators) == ["createItem"]
    assert labels(item.readers) == ["getItem"] and labels(item.deleters) == ["deleteItem"]
    # /cart/items/{item_id} returns a Cart: it uses an item, it is not one
    assert labels(item.consumers) == ["addToCart", "removeFromCart", "updateCartQuantity"]
    assert labels(cart.consumers) == ["checkoutCart"]
    assert labels(p.operation for p in order.creators) == ["checkoutCart"]
    auth = resources.auth
    assert auth.kind == "bearer" and auth.login.label == "login" and auth.register.label == "registerUser"
    assert auth.token_path == "token" and auth.password_field == "password"


def test_links_and_nested_resources():
    resources = ResourceMap(Api(library_spec()))
    get_author = Api(library_spec()).by_label()["getAuthor"]
    assert resources.param_resource(get_author, "author_id") == "author"
    assert resources.links  # createAuthor's link to getAuthor was read
    review, loan, book = (resources.resources[n] for n in ("review", "loan", "book"))
    assert labels(p.operation for p in review.creators) == ["createReview"]
    # an action on a loan is not a new loan
    assert labels(p.operation for p in loan.creators) == ["createLoan"]
    assert "returnLoan" in labels(loan.consumers)
    assert {"createLoan", "createReview", "setBookTags"} <= set(labels(book.consumers))
    assert resources.auth.kind == "none"
