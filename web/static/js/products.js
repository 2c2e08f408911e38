// Combined sales in the create form: the main product (主险) is the form's own product fields
// (product_name, product_type, premium, ...); each rider (附加险) is a row added here with the
// same fields and, optionally, its own script template. With riders the body sends
// `products` (main first, then riders, in the order shown); with none it stays the one-product
// form. Rider inputs are named `products[i].<field>`, the names the server's errors use.

import { t } from "./i18n.js";
import { el } from "./ui.js";

export const MAX_PRODUCTS = 10; // inspection/policy.py MAX_PRODUCTS
const TYPES = ["traditional", "participating", "universal", "investment_linked"];
const METHODS = ["年交", "月交", "趸交"];
const FIELDS = ["product_name", "product_type", "premium", "payment_method", "payment_years", "insurance_years", "template_id"];

function field(label, input) {
  return el("div", { class: "field" }, el("label", { for: input.id, i18n: [label] }), input);
}

function options(select, values, prefix) {
  select.replaceChildren(...values.map((v) => el("option", { value: v, i18n: [`${prefix}.${v}`] })));
  return select;
}

/**
 * Wire the rider rows of ``form``. ``templates()`` returns the built-in templates
 * ({id, title, product_types}). Returns {collect(body, errors), reset(), count(), refresh()}.
 */
export function setupProducts(form, templates) {
  const box = form.querySelector("#riders");
  const add = form.querySelector("#add-rider");
  const total = form.querySelector("#total-premium");
  let serial = 0; // ids stay unique when rows are removed and added again

  function rows() {
    return [...box.querySelectorAll(".rider")];
  }

  function fillRiderTemplates(row) {
    const select = row.querySelector("select.rider-template");
    const type = row.querySelector("select.rider-type").value;
    const previous = select.value;
    select.replaceChildren(el("option", { value: "", i18n: ["products.template_same"] }));
    for (const tpl of templates().filter((x) => x.product_types.includes(type))) {
      select.append(el("option", { value: tpl.id }, tpl.title));
    }
    if ([...select.options].some((o) => o.value === previous)) select.value = previous;
  }

  /** Names and titles follow the rows' order: products[1] is the first rider. */
  function renumber() {
    rows().forEach((row, k) => {
      const i = k + 1;
      row.querySelector(".rider-title").textContent = t("products.rider_n", { n: i });
      row.dataset.index = String(i);
      for (const name of FIELDS) {
        const input = row.querySelector(`[data-field="${name}"]`);
        input.name = `products[${i}].${name}`;
      }
    });
    add.disabled = rows().length + 1 >= MAX_PRODUCTS;
    showTotal();
  }

  function addRider() {
    serial += 1;
    const id = (name) => `rider${serial}-${name}`;
    const input = (name, attrs = {}) => el("input", { id: id(name), "data-field": name, ...attrs });
    const type = options(el("select", { id: id("product_type"), "data-field": "product_type", class: "rider-type" }), TYPES, "product");
    const method = options(el("select", { id: id("payment_method"), "data-field": "payment_method" }), METHODS, "pay");
    const template = el("select", { id: id("template_id"), "data-field": "template_id", class: "rider-template" });
    const remove = el("button", { type: "button", class: "btn secondary small remove-rider", i18n: ["products.remove"] });
    const row = el(
      "fieldset",
      { class: "product-box rider" },
      el("legend", {}, el("span", { class: "badge rider-role rider-title" })),
      el(
        "div",
        { class: "grid-form" },
        field("field.product_name", input("product_name", { maxlength: "128", required: true })),
        field("field.product_type", type),
        field("field.premium", input("premium", { inputmode: "decimal", required: true })),
        field("field.payment_method", method),
        field("field.payment_years", input("payment_years", { inputmode: "numeric", value: "1" })),
        field("field.insurance_years", input("insurance_years", { inputmode: "numeric", value: "1" })),
        field("products.template", template),
      ),
      el("div", { class: "btn-row" }, remove),
    );
    type.addEventListener("change", () => fillRiderTemplates(row));
    // The type/template mismatch is one problem shown on either field: fixing one clears both.
    row.addEventListener("change", () => {
      for (const f of ["product_type", "template_id"]) {
        const input = row.querySelector(`[data-field="${f}"]`);
        const hint = input.parentElement.querySelector(".hint-error");
        if (hint) hint.remove();
        input.removeAttribute("aria-invalid");
      }
    });
    remove.addEventListener("click", () => {
      row.remove();
      renumber();
      add.focus();
    });
    box.append(row);
    fillRiderTemplates(row);
    renumber();
    row.querySelector("input").focus();
  }

  function showTotal() {
    const n = rows().length;
    total.hidden = n === 0;
    if (!n) return;
    const premiums = [form.elements.premium, ...rows().map((r) => r.querySelector('[data-field="premium"]'))]
      .map((i) => Number(i.value.trim()));
    const sum = premiums.every((v) => Number.isFinite(v) && v > 0) ? premiums.reduce((a, b) => a + b, 0) : null;
    total.textContent = sum === null ? "" : t("products.total", { total: sum.toLocaleString("zh-CN"), n });
    total.hidden = sum === null;
  }

  /**
   * With riders: put `products` (main first) into ``body`` in place of its product fields and
   * push [inputName, key, vars] for each problem into ``errors``. Without: leave body alone.
   */
  function collect(body, errors, helpers) {
    const list = rows();
    if (!list.length) return;
    const { intOrNull, fieldLabel } = helpers;
    const main = {
      product_name: body.product_name,
      product_type: body.product_type,
      premium: body.premium,
      payment_method: body.payment_method,
      payment_years: body.payment_years,
      insurance_years: body.insurance_years,
    };
    const session = templates().find((x) => x.id === body.template_id);
    const products = [main];
    for (const row of list) {
      const i = Number(row.dataset.index);
      const get = (name) => row.querySelector(`[data-field="${name}"]`).value.trim();
      const name = (f) => `products[${i}].${f}`;
      if (!get("product_name")) errors.push([name("product_name"), "validation.required", { field: fieldLabel("product_name") }]);
      const premium = Number(get("premium"));
      if (!get("premium")) errors.push([name("premium"), "validation.required", { field: fieldLabel("premium") }]);
      else if (!(Number.isFinite(premium) && premium > 0)) errors.push([name("premium"), "validation.premium", {}]);
      for (const [f, min, max] of [["payment_years", 1, 100], ["insurance_years", 1, 120]]) {
        const n = intOrNull(get(f));
        if (n !== null && !(Number.isInteger(n) && n >= min && n <= max)) {
          errors.push([name(f), "validation.integer", { field: fieldLabel(f), min, max }]);
        }
      }
      const own = get("template_id");
      const tpl = own ? templates().find((x) => x.id === own) : session;
      if (session && (!tpl || !tpl.product_types.includes(get("product_type")))) {
        errors.push([name(own ? "template_id" : "product_type"), "validation.template_type", {}]);
      }
      const product = {
        product_name: get("product_name"),
        product_type: get("product_type"),
        premium,
        payment_method: get("payment_method"),
        payment_years: intOrNull(get("payment_years")),
        insurance_years: intOrNull(get("insurance_years")),
      };
      if (own) product.template_id = own;
      products.push(product);
    }
    for (const key of Object.keys(main)) delete body[key];
    body.products = products;
  }

  add.addEventListener("click", () => {
    if (rows().length + 1 < MAX_PRODUCTS) addRider();
  });
  form.addEventListener("input", showTotal);
  document.addEventListener("kesu:lang", () => {
    renumber();
    for (const row of rows()) fillRiderTemplates(row);
  });
  return {
    collect,
    count: () => rows().length,
    reset() {
      box.replaceChildren();
      renumber();
    },
    refresh: () => rows().forEach(fillRiderTemplates),
  };
}

/** "安康终身寿险 + 附加意外伤害保险" for a session with several products, else its product. */
export function productsLabel(session) {
  const products = session.policy && Array.isArray(session.policy.products) ? session.policy.products : [];
  return products.length > 1 ? products.map((p) => p.product_name).join(" + ") : session.product_name;
}
