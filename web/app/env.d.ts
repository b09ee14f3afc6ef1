// esbuild bundles the CSS an entry imports into assets/app-<hash>.css.
declare module "*.css";
