// The board app: sign in, then the board of one project at a time.
import { render } from "preact";
import { App } from "./views/App.js";
import "./app.css";

const root = document.getElementById("root");
if (root !== null) {
  root.textContent = "";
  render(<App />, root);
}
