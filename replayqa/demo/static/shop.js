// The demo shop's page: everything goes through the JSON API, as a real front end would.
const state = { token: null, cartId: null };
const $ = (id) => document.getElementById(id);
const say = (text) => { $("status").textContent = text; };
const money = (cents) => (cents / 100).toFixed(2);

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const response = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(data && data.error ? data.error : `HTTP ${response.status}`);
  return data;
}

async function login(event) {
  event.preventDefault();
  try {
    const data = await api("POST", "/auth/login", { email: $("email").value, password: $("password").value });
    state.token = data.token;
    $("who").textContent = $("email").value;
    $("login-panel").hidden = true;
    $("shop-panel").hidden = false;
    await Promise.all([showItems(), showCart()]);
    say("Logged in");
  } catch (error) { say(`Login failed: ${error.message}`); }
}

async function register() {
  try {
    await api("POST", "/users", { email: $("email").value, password: $("password").value });
    say("Registered: now log in");
  } catch (error) { say(`Registration failed: ${error.message}`); }
}

async function showItems() {
  const items = await api("GET", "/items");
  $("items").replaceChildren(...items.map((item) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.textContent = "Add";
    button.id = `add-${item.id}`;
    button.addEventListener("click", () => addToCart(item.id));
    li.append(`${item.name} (${money(item.price_cents)}) `, button);
    return li;
  }));
}

function renderCart(cart) {
  state.cartId = cart.id;
  $("cart").replaceChildren(...cart.lines.map((line) => {
    const li = document.createElement("li");
    li.textContent = `${line.quantity} × ${line.name}`;
    return li;
  }));
  $("total").textContent = money(cart.total_cents);
}

async function showCart() { renderCart(await api("GET", "/cart")); }

async function addToCart(itemId) {
  try {
    renderCart(await api("POST", "/cart/items", { item_id: itemId, quantity: 1 }));
    say("Added to cart");
  } catch (error) { say(`Could not add: ${error.message}`); }
}

async function pay(event) {
  event.preventDefault();
  try {
    const order = await api("POST", `/carts/${state.cartId}/checkout`, { card_number: $("card").value });
    say(`Order ${order.id} paid: ${money(order.total_cents)}`);
    await showCart();
  } catch (error) { say(`Payment failed: ${error.message}`); }
}

$("login-form").addEventListener("submit", login);
$("register").addEventListener("click", register);
$("pay-form").addEventListener("submit", pay);
