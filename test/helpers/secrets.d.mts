export const TEST_PASSWORD: string;
