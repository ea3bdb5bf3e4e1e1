// What a new action starts from: the seeds' default template and their sample input,
// and the name rule the server applies (handoff/protocol/actions.py ACTION_NAME).

export const DEFAULT_TEMPLATE = `import  json

def main(event, context):
    """
    event['body'] is a string dict with the following keys:
    node, event, user, entities.

    Currently, we pass user_id, user_name, full_name, device_platform and language_code in the user dictionary.

    Args:
        event (dict): Data corresponding to this event
        context

    Returns
        (dict): response with statusCode and the response for the User
    """
    body = json.loads(event['body'])
    entities = body.get('entities')
    user_data = body.get('user')
    conversation_details = body.get('conversation_details')
    final_response = {
        'status': True,
        'entities':entities,
        'user_full_name': user_data.get("full_name"),
        'user_device_platform': user_data.get("device_platform"),
        'conversation_details':conversation_details
    }
    response = {'statusCode': 200, 'body': json.dumps(final_response), 'headers': {'Content-Type': 'application/json'}}
    return response
`;

export const SAMPLE_INPUT = JSON.stringify({
  entities: { order_id_demotrain: [{ entity_value: { value: "abc123" } }] },
  user_data: {
    user_id: 7,
    user_name: "ada",
    full_name: "Ada Lovelace",
    device_platform: "web",
    language_code: "en",
  },
}, null, 2);

const NAME = /^[A-Za-z0-9_-]{1,100}$/;

/** Why `name` cannot be an action's name, or null when it can. */
export function nameProblem(name) {
  if (!name) return "Give the action a name.";
  if (!NAME.test(name)) return "An action name is 1-100 letters, digits, '_' or '-'.";
  return null;
}

/** The sample input as an object, or {error} saying why it is not one. `where` is the
 * editor's {line, column} of the first syntax error, when it found one. */
export function parseSample(text, where) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const at = where ? ` (line ${where.line}, column ${where.column})` : "";
    return { error: `Sample input is not JSON${at}: ${err.message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: "Sample input must be a JSON object, such as {\"entities\": {}, \"user_data\": {}}." };
  }
  return { value };
}

export const fmtTime = (iso) =>
  (iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" }) : "—");
export const fmtShort = (iso) =>
  (iso ? new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short" }) : "—");
export const fmtNumber = (n) => Number(n).toLocaleString("en");
