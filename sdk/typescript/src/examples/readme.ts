import { SandboxClient } from '@sandkasten/client';

await using client = new SandboxClient({ baseUrl: process.env.SANDKASTEN_SERVER ?? 'http://127.0.0.1:8080', apiKey: process.env.SANDKASTEN_API_KEY });
await using session = await client.createSession();
await session.write('hello.py', "print('Hello from sandbox!')");
const result = await session.exec('python3 hello.py');
console.log(result.output); // Hello from sandbox!
