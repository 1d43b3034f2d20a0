/** Password of the password-checking test server; the secrets tests search all output for it. */
export const TEST_PASSWORD = 'S3cret-Pa55word-for-tests';
