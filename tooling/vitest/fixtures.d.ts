export declare const repoRoot: string;
export declare function peftFixturesDir(): string;
export declare const extraFixturesDir: string;
