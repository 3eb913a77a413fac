// A bench peer: the official openai package streaming a chat completion
// from the mock, each delta's text written on a line of its own as it
// comes ("D" then the text), then "END".
//
//   node openai.mjs BASE_URL MESSAGE
import OpenAI from "openai";

const [baseURL, message] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "bench-dummy-key", maxRetries: 0 });
const stream = await client.chat.completions.create({
  model: "mock",
  max_tokens: 1024,
  stream: true,
  messages: [{ role: "user", content: message }],
});
for await (const chunk of stream) {
  const text = chunk.choices[0]?.delta?.content;
  if (text) process.stdout.write("D" + text + "\n");
}
process.stdout.write("END\n");
