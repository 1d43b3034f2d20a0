// The floor of the no-op scenario: the simplest Node script that loads pg, connects, runs
// `select 1` and exits (CommonJS, the cheaper of Node's two module loaders for this).
const pg = require('pg');

const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
client
  .connect()
  .then(() => client.query('select 1'))
  .then(() => client.end())
  .catch((error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
